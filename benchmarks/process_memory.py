"""This process's resident memory on Linux, shared by the benchmarks that measure peak memory."""


def status_kib(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` (current / peak resident size) of this process in KiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def reset_peak_rss() -> None:
    """Set this process's ``VmHWM`` to its current resident size (Linux >= 4.0)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
