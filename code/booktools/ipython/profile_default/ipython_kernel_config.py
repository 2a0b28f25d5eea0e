# The IPython profile of the book's own kernels (make book, make test, make
# bench, make mutants): the Makefile and tests/conftest.py set IPYTHONDIR to
# the folder above this one.
#
# TensorFlow 2.21's C++ side writes to the process's stderr before its logging
# starts ("WARNING: All log messages before absl::InitializeLog() is called
# are written to STDERR", "I0000 ... oneDNN custom operations are on ..."),
# whatever TF_CPP_MIN_LOG_LEVEL says. With the kernel's default capture of
# file descriptors 1 and 2 those lines would land in a chapter's outputs.
# Here, what C libraries write to the descriptors stays on the terminal of
# whoever runs the build; Python's own output, warnings included, still
# reaches the notebook (and the tests fail on any warning there).
c = get_config()  # noqa: F821
c.IPKernelApp.capture_fd_output = False
c.HistoryManager.enabled = False
