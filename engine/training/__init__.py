"""One run on one device: DermaMNIST and its download, batched augmentation, the networks, what a run takes
(RunOptions), the device questions (device.py: which device, which precision) and the training loop that reports
events."""
