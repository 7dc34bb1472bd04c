"""Shared hypothesis strategies."""

from __future__ import annotations

from hypothesis import strategies as st

from suanli.catalog import builtin_catalog

DENSE_MODELS = ["llama3-8b", "llama2-70b", "llama3-70b", "qwen2.5-72b"]
NVIDIA = ["h100-sxm", "h200-sxm", "a100-sxm-80gb", "b200"]

dense_models = st.sampled_from(DENSE_MODELS).map(lambda i: builtin_catalog().model(i))
nvidia_chips = st.sampled_from(NVIDIA).map(lambda i: builtin_catalog().accelerator(i))
bandwidth_scale = st.floats(min_value=1.05, max_value=4.0)
