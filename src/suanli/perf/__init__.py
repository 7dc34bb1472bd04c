"""Performance stage: LLM training and inference on any accelerator."""
