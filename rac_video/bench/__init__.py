"""Benchmarks (``rac-video bench NAME``): each module has ``main(argv) -> int``; tools/ wraps them."""
