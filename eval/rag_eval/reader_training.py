"""Training the reader (``rag/reader.npz``): e5-small's first layers as a span-extracting cross-encoder.

    python -m rag_eval.reader_training --train /work/shared/reader/train.jsonl --out rag/reader.npz

Design, for 2 CPU cores and an hour: the reader is the first ``layers`` of multilingual-e5-small.
The lower ``frozen`` of them never change, so they run once over every training pair and their
output is cached (fp16); only the layers above learn, through low-rank (LoRA) updates of their six
linear maps plus their biases and layer norms, with the span and no-answer heads on top.

Each training question gives three pairs (``rag_eval.reader_pairs``): an answering window of its
paragraph (40–140 characters: from the product's sentences up to the sliding windows a long
paragraph is read with), an on-topic and an off-topic negative. The dev split is a seeded share of
articles, so no article is in both (``rag_eval.reader_data``).

Measured (the committed reader): 44 min wall on the 2 shared cores, other jobs holding the load
average at 5–7 for its first half: 22 min caching 25,000 pairs through 6 layers, then 2 epochs of
10 min (1,308 steps of 32 pairs); 17 min on quiet cores, where a second run wrote the same weights
bit for bit. Dev: window F1 0.790, paragraph F1 0.674 (300 questions), no-answer ROC AUC 0.934
on-topic, 0.995 off-topic. Other settings tried (``--same-paragraph``, ``--frozen 4``):
eval/reports/reader.md.

Past the facade: it trains the reader's layers (``rag.model``, ``rag.reader``, ``rag.reader_export``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.files import file_sha256, write_atomic
from rag.model import ADAPTER_TARGETS
from rag.reader import EncodedWindow, best_span, encode_window, make_batch, question_ids
from rag.reader_export import quantize_int8, reader_heads
from rag_eval.reader_data import Question, load_questions, split_dev
from rag_eval.reader_metrics import exact_match, f1
from rag_eval.reader_pairs import Pair, build_pairs, paragraph_pairs

TRAINED_NORMS = ("attention.output.LayerNorm", "output.LayerNorm")


@dataclass(frozen=True)
class TrainSettings:
    layers: int = 8  # reader depth: int8, 5 sentence windows take ≈ 22 ms with 8 layers, 35 ms with 12
    frozen: int = 6  # lower layers, cached once; training runs the other two (4: better on DRCD, worse on the news)
    rank: int = 32
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-3
    head_learning_rate: float = 2e-3
    prefixes: bool = False  # E5's "query: " / "passage: " prompts
    window: tuple[int, int] = (40, 140)  # characters: a sentence or two, up to heldout's sliding windows
    same_paragraph: bool = False  # a fourth pair: a window of the question's own paragraph holding no answer (no gain)
    int8_lower: bool = False  # cache the frozen layers through their int8 graph, as the product reads them
    near_negative: bool = False  # a fourth pair: the closest window of the closest other article (CMRC re-ranking)
    dev_share: float = 0.1
    dev_window: int = 140  # sliding windows for the dev paragraphs
    dev_stride: int = 70
    dev_paragraphs: int = 300  # dev questions read as whole paragraphs each epoch (all of them: see reader_metrics)
    seed: int = 0
    limit: int | None = None  # first N training questions only (quick experiments)


@dataclass
class Encoded:
    """Pairs as model input; ``cache`` is the frozen layers' output of each pair (fp16)."""

    pairs: list[Pair]
    windows: list[EncodedWindow]
    targets: list[tuple[int, int] | None]  # token positions of the answer in the full sequence
    cache: list[Any] = field(default_factory=list)


def encode_pairs(
    tokenizer: Any, questions: Sequence[Question], pairs: list[Pair], prefixes: bool
) -> tuple[Encoded, list[list[int]]]:
    """Token ids and, for answering windows, the answer's first and last token in the sequence."""
    question_tokens = {i: question_ids(tokenizer, questions[i].question, prefixes) for i in {p.question for p in pairs}}
    windows, targets = [], []
    for pair in pairs:
        window = encode_window(tokenizer, pair.window, prefixes)
        windows.append(window)
        target = None
        if pair.answer is not None:
            start, end = pair.answer
            inside = [
                t
                for t, ((a, b), ok) in enumerate(zip(window.offsets, window.bounds, strict=True))
                if ok and b > start and a < end
            ]
            if inside:
                first = len(question_tokens[pair.question]) + 3
                target = (first + inside[0], first + inside[-1])
        targets.append(target)
    return Encoded(pairs, windows, targets), [question_tokens[p.question] for p in pairs]


class ReaderModel:
    """The trainable part in torch: layers ``frozen``..``layers`` with LoRA, and the heads."""

    def __init__(self, model_dir: Path, settings: TrainSettings) -> None:
        import torch
        from transformers import BertModel

        self.torch = torch
        self.model = BertModel.from_pretrained(str(model_dir), attn_implementation="eager")
        self.model.encoder.layer = self.model.encoder.layer[: settings.layers]  # the reader's depth
        self.model.config.num_hidden_layers = settings.layers
        self.model.eval()  # no dropout: a few thousand questions, few steps
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.low_rank: dict[str, tuple[Any, Any]] = {}
        self.trained: dict[str, Any] = {}
        for number in range(settings.frozen, settings.layers):
            for target in ADAPTER_TARGETS:
                name = f"encoder.layer.{number}.{target}"
                linear = self.model.get_submodule(name)
                down = torch.nn.Parameter(
                    torch.randn(settings.rank, linear.in_features) / math.sqrt(linear.in_features)
                )
                up = torch.nn.Parameter(torch.zeros(linear.out_features, settings.rank))
                linear.register_forward_hook(lambda _module, args, out, a=down, b=up: out + (args[0] @ a.T) @ b.T)
                self.low_rank[name] = (down, up)
                self.trained[f"{name}.bias"] = linear.bias
            for norm in TRAINED_NORMS:
                module = self.model.get_submodule(f"encoder.layer.{number}.{norm}")
                self.trained[f"encoder.layer.{number}.{norm}.weight"] = module.weight
                self.trained[f"encoder.layer.{number}.{norm}.bias"] = module.bias
        for parameter in self.trained.values():
            parameter.requires_grad_(True)
        self.heads = reader_heads(self.model.config.hidden_size)
        self.settings = settings

    def upper(self, hidden: Any, mask: Any) -> tuple[Any, Any, Any]:
        blocked = _blocked(self.torch, mask, hidden.dtype)
        for layer in self.model.encoder.layer[self.settings.frozen :]:
            hidden = _last(layer(hidden, attention_mask=blocked))
        return self.heads(hidden)

    def parameter_groups(self) -> list[dict[str, Any]]:
        encoder = [p for pair in self.low_rank.values() for p in pair] + list(self.trained.values())
        return [
            {"params": encoder, "lr": self.settings.learning_rate, "base": self.settings.learning_rate},
            {
                "params": list(self.heads.parameters()),
                "lr": self.settings.head_learning_rate,
                "base": self.settings.head_learning_rate,
            },
        ]

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``rag.reader.reader_weights`` merges: low-rank pairs, replaced biases and norms, heads."""
        out = {}
        for name, (down, up) in self.low_rank.items():
            out[f"{name}.down"], out[f"{name}.up"] = _numpy(down), _numpy(up)
        out.update({name: _numpy(p) for name, p in self.trained.items()})
        out.update({f"heads.{name}": _numpy(p) for name, p in self.heads.state_dict().items()})
        return out


def _last(output: Any) -> Any:
    return output[0] if isinstance(output, tuple) else output


def _blocked(torch: Any, mask: Any, dtype: Any) -> Any:
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().numpy().astype(np.float32)


def _batches(encoded: Encoded, size: int) -> list[list[int]]:
    """Pairs of similar length together (less padding)."""
    order = sorted(range(len(encoded.pairs)), key=lambda i: len(encoded.windows[i].ids))
    return [order[i : i + size] for i in range(0, len(order), size)]


def _inputs(torch: Any, encoded: Encoded, questions: list[list[int]], rows: list[int]) -> tuple[Any, Any, Any]:
    batch = make_batch([questions[i] for i in rows], [encoded.windows[i] for i in rows])
    return torch.from_numpy(batch.ids), torch.from_numpy(batch.mask), batch


def lower_session(model: ReaderModel, folder: Path) -> Any:
    """The frozen layers as an ONNX Runtime session (from token vectors, as the exported reader
    starts): here it ran the cache about twice as fast as torch. With ``int8_lower``, quantised as
    the product's int8 reader is, so the trained layers learn from what they will be given."""
    import onnxruntime

    torch = model.torch

    class Lower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model.model  # a submodule: its weights export as initializers, which int8 quantises

        def forward(self, token_vectors: Any, attention_mask: Any) -> Any:
            hidden = self.bert.embeddings(inputs_embeds=token_vectors, token_type_ids=torch.zeros_like(attention_mask))
            blocked = _blocked(torch, attention_mask, hidden.dtype)
            for layer in self.bert.encoder.layer[: model.settings.frozen]:
                hidden = _last(layer(hidden, attention_mask=blocked))
            return hidden

    axes = {0: "batch", 1: "tokens"}
    example = (torch.ones((2, 8, model.model.config.hidden_size)), torch.ones((2, 8), dtype=torch.long))
    torch.onnx.export(
        Lower(), example, str(folder / "lower.onnx"), input_names=["token_vectors", "attention_mask"], output_names=["hidden"],
        dynamic_axes={"token_vectors": axes, "attention_mask": axes, "hidden": axes}, opset_version=17, dynamo=False,
    )  # fmt: skip
    graph = folder / "lower.onnx"
    if model.settings.int8_lower:
        quantize_int8(graph, folder / "lower.int8.onnx")
        graph = folder / "lower.int8.onnx"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the cores are shared
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def cache_lower(
    session: Any, token_vectors: np.ndarray, encoded: Encoded, questions: list[list[int]], label: str
) -> None:
    """The frozen layers' output of every pair, once (fp16, padding dropped)."""
    import torch

    began = time.perf_counter()
    encoded.cache = [None] * len(encoded.pairs)
    for rows in _batches(encoded, 64):
        batch = make_batch([questions[i] for i in rows], [encoded.windows[i] for i in rows])
        (hidden,) = session.run(None, {"token_vectors": token_vectors[batch.ids], "attention_mask": batch.mask})
        for k, i in enumerate(rows):
            encoded.cache[i] = torch.from_numpy(hidden[k, : int(batch.mask[k].sum())].astype(np.float16))
    print(
        f"cached the frozen layers' output for {len(encoded.pairs)} {label} pairs in {time.perf_counter() - began:.0f} s",
        flush=True,
    )


def _padded(torch: Any, encoded: Encoded, rows: list[int]) -> Any:
    width = max(encoded.cache[i].shape[0] for i in rows)
    hidden = torch.zeros((len(rows), width, encoded.cache[rows[0]].shape[1]))
    for k, i in enumerate(rows):
        hidden[k, : encoded.cache[i].shape[0]] = encoded.cache[i].float()
    return hidden


def run_upper(
    model: ReaderModel, encoded: Encoded, questions: list[list[int]], rows: list[int]
) -> tuple[Any, Any, Any, Any]:
    torch = model.torch
    _, mask, batch = _inputs(torch, encoded, questions, rows)
    start, end, no_answer = model.upper(_padded(torch, encoded, rows), mask)
    blocked = torch.from_numpy(~batch.bounds)
    return start.masked_fill(blocked, -1e4), end.masked_fill(blocked, -1e4), no_answer, batch


def predict(model: ReaderModel, encoded: Encoded, questions: list[list[int]]) -> list[tuple[int, int, float, float]]:
    """(start, end) character offsets in the window, span score, P(no answer) for every pair."""
    out: list[tuple[int, int, float, float]] = [(0, 0, 0.0, 1.0)] * len(encoded.pairs)
    with model.torch.no_grad():
        for rows in _batches(encoded, 64):
            start, end, no_answer, batch = run_upper(model, encoded, questions, rows)
            for k, i in enumerate(rows):
                s, e, score = best_span(start[k].numpy(), end[k].numpy(), batch.bounds[k])
                offsets = encoded.windows[i].offsets
                first = int(batch.first[k])
                span = (offsets[s - first][0], offsets[e - first][1]) if score > 0 else (0, 0)
                out[i] = (*span, score, float(_sigmoid(no_answer[k].item())))
    return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def dev_scores(model: ReaderModel, dev_pairs: Encoded, dev_q: list[list[int]], paragraphs: Encoded, par_q: list[list[int]],
               questions: Sequence[Question]) -> dict[str, float]:  # fmt: skip
    """EM/F1 of the answering windows and of whole paragraphs read with sliding windows (the best
    span by score·(1 − P(no answer))), and the no-answer head's ROC AUC for each kind of negative."""
    from sklearn.metrics import roc_auc_score

    scores: dict[str, float] = {}
    predictions = predict(model, dev_pairs, dev_q)
    positives = [i for i, p in enumerate(dev_pairs.pairs) if p.answer is not None]
    texts = [dev_pairs.pairs[i].window[predictions[i][0] : predictions[i][1]] for i in positives]
    golds = [[a for a, _ in questions[dev_pairs.pairs[i].question].answers] for i in positives]
    scores["window_em"] = float(np.mean([exact_match(t, g) for t, g in zip(texts, golds, strict=True)]))
    scores["window_f1"] = float(np.mean([f1(t, g) for t, g in zip(texts, golds, strict=True)]))
    for kind in sorted({p.kind for p in dev_pairs.pairs} - {"answering"}):
        rows = positives + [i for i, p in enumerate(dev_pairs.pairs) if p.kind == kind]
        labels = [int(dev_pairs.pairs[i].answer is None) for i in rows]
        scores[f"auc_{kind}"] = float(roc_auc_score(labels, [predictions[i][3] for i in rows]))
    best: dict[int, tuple[float, str]] = {}
    for pair, (s, e, score, no_answer) in zip(paragraphs.pairs, predict(model, paragraphs, par_q), strict=True):
        value = score * (1.0 - no_answer)
        if pair.question not in best or value > best[pair.question][0]:
            best[pair.question] = (value, pair.window[s:e])
    golds = {i: [a for a, _ in questions[i].answers] for i in best}
    scores["paragraph_em"] = float(np.mean([exact_match(t, golds[i]) for i, (_, t) in best.items()]))
    scores["paragraph_f1"] = float(np.mean([f1(t, golds[i]) for i, (_, t) in best.items()]))
    return {key: round(value, 4) for key, value in scores.items()}


def train(data: Path, model_dir: Path, settings: TrainSettings) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import torch
    from tokenizers import Tokenizer

    began = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    questions = load_questions(data)
    train_ids, dev_ids = split_dev(questions, settings.dev_share, settings.seed)
    train_ids = train_ids[: settings.limit]
    dev_ids = dev_ids[: settings.limit and max(100, settings.limit // 8)]
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    sets = {
        "train": encode_pairs(
            tokenizer, questions, build_pairs(questions, train_ids, settings, rng), settings.prefixes
        ),
        "dev": encode_pairs(tokenizer, questions, build_pairs(questions, dev_ids, settings, rng), settings.prefixes),
        "dev paragraph": encode_pairs(
            tokenizer,
            questions,
            paragraph_pairs(questions, dev_ids[: settings.dev_paragraphs], settings),
            settings.prefixes,
        ),
    }
    print(f"{len(train_ids)} training questions, {len(dev_ids)} dev questions; pairs: "
          + ", ".join(f"{name} {len(e.pairs)}" for name, (e, _) in sets.items()), flush=True)  # fmt: skip
    model = ReaderModel(model_dir, settings)
    token_vectors = model.model.embeddings.word_embeddings.weight.detach().numpy()
    with tempfile.TemporaryDirectory() as folder:
        session = lower_session(model, Path(folder))
        for name, (encoded, question_tokens) in sets.items():
            cache_lower(session, token_vectors, encoded, question_tokens, name)
        del session
    encoded, question_tokens = sets["train"]
    optimiser = torch.optim.AdamW(model.parameter_groups(), weight_decay=0.0)
    batches = _batches(encoded, settings.batch_size)
    total, warmup, step = settings.epochs * len(batches), max(1, len(batches) // 10), 0
    history = []
    for epoch in range(1, settings.epochs + 1):
        rng.shuffle(batches)
        losses, epoch_began = [], time.perf_counter()
        for rows in batches:
            start, end, no_answer, _ = run_upper(model, encoded, question_tokens, rows)
            labels = torch.tensor([float(encoded.targets[i] is None) for i in rows])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(no_answer, labels)
            answering = [k for k, i in enumerate(rows) if encoded.targets[i] is not None]
            if answering:
                starts = torch.tensor([encoded.targets[rows[k]][0] for k in answering])  # type: ignore[index]
                ends = torch.tensor([encoded.targets[rows[k]][1] for k in answering])  # type: ignore[index]
                span = torch.nn.functional.cross_entropy(start[answering], starts) + torch.nn.functional.cross_entropy(
                    end[answering], ends
                )
                loss = loss + span / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            for group in optimiser.param_groups:  # linear warm-up, then linear decay
                group["lr"] = group["base"] * min(1.0, step / warmup) * (1 - step / total)
            losses.append(loss.item())
        scores = dev_scores(model, *sets["dev"], *sets["dev paragraph"], questions)
        history.append(
            {
                "epoch": epoch,
                "loss": round(float(np.mean(losses)), 4),
                "seconds": round(time.perf_counter() - epoch_began),
                **scores,
            }
        )
        print(json.dumps(history[-1]), flush=True)
    stamp = {
        "made_by": "python -m rag_eval.reader_training",
        "data": str(data), "data_sha256": file_sha256(data),
        "settings": asdict(settings), "steps": step, "seconds": round(time.perf_counter() - began),
        "train_questions": len(train_ids), "dev_questions": len(dev_ids),
        "pairs": {name: len(e.pairs) for name, (e, _) in sets.items()},
        "dev": history[-1], "history": history,
        "torch": torch.__version__, "python": platform.python_version(),
    }  # fmt: skip
    return model.arrays(), stamp


def save_reader(arrays: dict[str, np.ndarray], settings: TrainSettings, stamp: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    reading = {"layers": settings.layers, "prefixes": settings.prefixes}  # what export and reading need
    np.savez(buffer, settings=np.array(json.dumps(reading)), stamp=np.array(json.dumps(stamp)), **arrays)
    write_atomic(path, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the reader (rag/reader.npz).")
    parser.add_argument("--train", type=Path, required=True, help="jsonl rows {qid, question, context, answers}")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, help="the prepared embedding model (default: rag's settings)")
    defaults = TrainSettings()
    for name in ("layers", "frozen", "rank", "epochs", "batch_size", "seed", "limit"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("learning_rate", "head_learning_rate"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--prefixes", action=argparse.BooleanOptionalAction, default=defaults.prefixes)
    parser.add_argument("--same-paragraph", action=argparse.BooleanOptionalAction, default=defaults.same_paragraph)
    parser.add_argument("--int8-lower", action=argparse.BooleanOptionalAction, default=defaults.int8_lower)
    parser.add_argument("--near-negative", action=argparse.BooleanOptionalAction, default=defaults.near_negative)
    args = parser.parse_args()
    import torch

    from rag.config import Settings

    torch.set_num_threads(2)
    settings = TrainSettings(**{k: v for k, v in vars(args).items() if k in TrainSettings.__dataclass_fields__})
    arrays, stamp = train(args.train, args.model_dir or Settings().model_dir, settings)
    save_reader(arrays, settings, stamp, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {stamp['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
