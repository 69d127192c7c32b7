"""The ``prometheus`` plugin: metrics in the Prometheus text format at ``/metrics``."""
