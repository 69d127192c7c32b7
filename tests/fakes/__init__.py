"""Test doubles: fake upstream servers on 127.0.0.1:<ephemeral>."""
