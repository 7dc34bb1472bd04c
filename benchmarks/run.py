"""Benchmarks for suanli: print figures measured in one run (ratios where a baseline exists).

Run with ``make bench``. Nothing here is a pass/fail test: machines are shared and noisy.
"""

from __future__ import annotations

import os
import time
import timeit
import tracemalloc
from collections.abc import Callable

import numpy as np

from suanli.analysis import supply_model
from suanli.catalog import builtin_catalog, load_catalog
from suanli.economics.order import summarize_order
from suanli.perf import predict_inference, predict_training
from suanli.perf.efficiency import efficiency_table
from suanli.perf.hardware import chip_of
from suanli.perf.search import enumerate_plans
from suanli.perf.training_model import step_cost
from suanli.perf.workload import model_work
from suanli.scenario import load_scenario
from suanli.supply.reference import simulate_reference
from suanli.supply.run import simulate_paths, summarize


def _per_second(statement: Callable[[], object], number: int) -> float:
    seconds = min(timeit.repeat(statement, number=number, repeat=5))
    return number / seconds


def bench_catalog() -> None:
    def cold() -> None:
        builtin_catalog.cache_clear()
        builtin_catalog()

    cold_rate = _per_second(cold, 5)
    warm_rate = _per_second(load_catalog, 2000)
    print(
        f"catalog: cold parse+validate {cold_rate:,.1f}/s, cached {warm_rate:,.0f}/s "
        f"(cache speed-up {warm_rate / cold_rate:,.0f}x)"
    )
    order = load_scenario().order
    print(f"order summaries: {_per_second(lambda: summarize_order(order), 2000):,.0f}/s")


def bench_search() -> None:
    cat = builtin_catalog()
    model, accelerator = cat.model("llama3.1-405b"), cat.accelerator("h100-sxm")
    work, chip = model_work(model), chip_of(accelerator)
    eff = efficiency_table().for_stack(chip.stack)
    seq, batch = 8192, 2048 * 8192.0

    def search() -> None:
        plans = enumerate_plans(work, 16384, seq, batch)
        step_cost(work, chip, eff, plans, seq_len=seq, global_batch_tokens=batch, precision="bf16")

    plans = enumerate_plans(work, 16384, seq, batch)
    start = time.perf_counter()
    repeats = 20
    for _ in range(repeats):
        search()
    seconds = (time.perf_counter() - start) / repeats
    vector_rate = len(plans) / seconds
    print(
        f"search 405B on 16,384 H100: {len(plans):,} plans in {seconds * 1e3:.1f} ms "
        f"({vector_rate:,.0f} plans/s, enumeration included)"
    )

    # Baseline: the same cost model called once per plan, as a plain Python loop would.
    sample = min(len(plans), 500)
    start = time.perf_counter()
    for i in range(sample):
        one = plans.take(np.array([i]))
        step_cost(work, chip, eff, one, seq_len=seq, global_batch_tokens=batch, precision="bf16")
    loop_rate = sample / (time.perf_counter() - start)
    ratio = vector_rate / loop_rate
    print(f"  per-plan loop baseline: {loop_rate:,.0f} plans/s -> vectorised is {ratio:,.0f}x faster")

    full = _per_second(
        lambda: predict_training(model, accelerator, 16384, seq_len=seq, global_batch_tokens=batch), 10
    )
    print(
        f"predict_training (405B, 16,384 chips, full search + ranking): {full:,.1f}/s "
        f"({1e3 / full:.1f} ms each)"
    )
    infer = _per_second(
        lambda: predict_inference(
            cat.model("llama3-70b"),
            cat.accelerator("h200-sxm"),
            8,
            input_tokens=2000,
            output_tokens=500,
            tpot_ms=50,
            weight_precision="fp8",
        ),
        50,
    )
    print(f"predict_inference (70B on 8 chips, all instance sizes, TPOT target): {infer:,.0f}/s")


def bench_supply() -> None:
    model = supply_model(load_scenario("h200-china-2026"))
    n_t, n_a = model.shape
    paths = 1_000_000
    simulate_paths(model, 50_000, seed=0)  # warm up threads and caches
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        raw = simulate_paths(model, paths, seed=1)
        best = min(best, time.perf_counter() - start)
    rate = paths * n_t * n_a / best
    start = time.perf_counter()
    summarize(raw, model, scenario="bench", seed=1, executor="local", seconds=best)
    summary_s = time.perf_counter() - start
    print(
        f"supply: {paths:,} paths x {n_t} quarters x {n_a} accelerators in {best:.2f} s "
        f"= {rate / 1e6:,.1f} M path-quarter-accelerators/s (local executor, {os.cpu_count()} cores); "
        f"percentiles and tail risk {summary_s:.2f} s more"
    )
    loop_paths = 2_000
    start = time.perf_counter()
    simulate_reference(model, loop_paths, seed=1)
    loop_rate = loop_paths * n_t * n_a / (time.perf_counter() - start)
    print(
        f"  per-path Python loop: {loop_rate / 1e6:,.3f} M/s -> vectorised is {rate / loop_rate:,.0f}x faster"
    )
    tracemalloc.start()
    simulate_paths(model, paths, seed=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak traced memory for {paths:,} paths: {peak / 2**30:.2f} GiB")


def main() -> None:
    bench_catalog()
    bench_search()
    bench_supply()


if __name__ == "__main__":
    main()
