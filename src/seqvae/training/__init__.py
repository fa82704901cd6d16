"""Lightning training: the task module, the trainer and resumable runs."""
