"""Hardware: the device a step runs on, the precision it can run, and its peak rates.

- `devices`: resolving and describing a device (CPU or CUDA), with the memory available;
- `precision`: what each precision name means and whether the device can run it;
- `peaks`: the datasheet peak, a measured matmul peak, and the figures a configuration reports;
- `environment`: versions, processors and driver, as every record carries them;
- `nvml`: the only access to NVIDIA's management library.
"""
