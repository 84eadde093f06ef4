"""Timing: real training steps of an architecture, timed per step on CUDA or the CPU.

    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    result = time_training("resnet18", TimingRequest(batch_size=8, tiny=True))

- `request`: what to time (`TimingRequest`) and the device defaults of the step budget;
- `run`: `time_training`, one configuration end to end;
- `setup`: memory pre-check, model and optimizer on the device, out-of-memory retry;
- `runtime`, `clock`: what differs between CUDA and the CPU, chosen once per run;
- `loop`: the warm-up and the timed window, the same on every device;
- `stats`, `memory`, `result`: sample statistics, memory estimate and peak, the record.
"""
