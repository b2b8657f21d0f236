"""clockwf's tests: a package, so that each tier's conftest and helper modules have names of
their own (``tests.acceptance.conftest``, ``tests.integration.executor_support``) however
many tiers one pytest command line names."""
