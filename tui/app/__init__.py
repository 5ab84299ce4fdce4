"""The Textual app: its state without widgets (lab), the feeds that follow the store and the GPUs, the child
processes it starts (worker, device probe, augmentation preview), and its screens and widgets."""
