"""bf16 against fp32 on this CPU for the packaged SmolLM2-135M-Instruct: training steps (LoRA and
full fine-tuning, forward + backward) and greedy generation (batch 1 and batch 16), timed in turns
so a busy moment slows both alike.

    python benchmarks/bench_generation_precision.py [--rounds 3]

Prints seconds per training step, generated tokens/s, and the bf16/fp32 ratios, which decide the
text-generation task's precision on a CPU. Chat-formatted restaurant descriptions stand in for the
data (about 90 tokens per example, as E2E's are).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

import hackkit as hk

PROMPTS = [f"name[The Eagle {i}], eatType[coffee shop], food[Japanese], priceRange[less than £20], "
           f"customer rating[low], area[riverside], familyFriendly[yes], near[Burger King]"
           for i in range(16)]
RESPONSES = ["The Eagle is a low rated coffee shop near Burger King in the riverside area. It is "
             "family friendly, serves Japanese food and is priced less than £20."] * 16


def autocast(dtype):
    """CPU autocast to `dtype`, or nothing for fp32."""
    return torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = hk.resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").location
    tok = AutoTokenizer.from_pretrained(location)
    texts = [tok.apply_chat_template([{"role": "user", "content": p},
                                      {"role": "assistant", "content": r}], tokenize=False)
             for p, r in zip(PROMPTS, RESPONSES)]
    batch = tok(texts[:args.batch], return_tensors="pt", padding=True)
    batch["labels"] = batch["input_ids"].clone()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; batch {args.batch} x "
          f"{batch['input_ids'].shape[1]} tokens")

    def step_time(model, dtype) -> float:
        start = time.perf_counter()
        with autocast(dtype):
            loss = model(**batch).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    models = {"full": AutoModelForCausalLM.from_pretrained(location)}
    lora = AutoModelForCausalLM.from_pretrained(location)
    models["lora r8"] = get_peft_model(lora, LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                            "up_proj", "down_proj"]))
    for model in models.values():
        model.train()
        step_time(model, None)
        step_time(model, torch.bfloat16)  # warm-up of both kernels
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, model in models.items():
            for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                times.setdefault((name, label), []).append(step_time(model, dtype))
    for name in models:
        fp32 = statistics.median(times[(name, "fp32")])
        bf16 = statistics.median(times[(name, "bf16")])
        print(f"train step {name:8s}: fp32 {fp32:6.2f} s, bf16 autocast {bf16:6.2f} s, "
              f"bf16/fp32 speed {fp32 / bf16:.2f}x")
    del models, lora

    gen = {"fp32": AutoModelForCausalLM.from_pretrained(location).eval(),
           "bf16 weights": AutoModelForCausalLM.from_pretrained(location,
                                                                dtype=torch.bfloat16).eval()}
    tok.padding_side = "left"
    prompts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                       add_generation_prompt=True) for p in PROMPTS]

    def tokens_per_second(model, n: int) -> float:
        inputs = tok(prompts[:n], return_tensors="pt", padding=True)
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=32, min_new_tokens=32, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        return n * (out.shape[1] - inputs["input_ids"].shape[1]) / (time.perf_counter() - start)

    for model in gen.values():
        tokens_per_second(model, 1)
    speeds: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for label, model in gen.items():
            for n in (1, 16):
                speeds.setdefault((label, n), []).append(tokens_per_second(model, n))
    for n in (1, 16):
        fp32 = statistics.median(speeds[("fp32", n)])
        bf16 = statistics.median(speeds[("bf16 weights", n)])
        print(f"generate batch {n:2d}: fp32 {fp32:6.1f} tokens/s, bf16 {bf16:6.1f} tokens/s, "
              f"bf16/fp32 {bf16 / fp32:.2f}x")


if __name__ == "__main__":
    main()
