"""Unit tests of the build (``blufio_build``): fast, no archive built, no index asked."""
