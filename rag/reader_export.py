"""Exporting the reader: its trained updates (``rag/reader.npz``) merged into the base model's lower
layers, written as ONNX graphs (fp32 and int8) into the prepared model folder by ``rag.model``.

Needs torch and transformers; reading (``rag.reader``) needs only ONNX Runtime. The training code
(``rag_eval.reader_training``) builds the same heads and merges the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.files import file_sha256
from rag.prepared import READER_FILE, READER_GRAPH, READER_GRAPH_INT8, READER_SETTINGS


def reader_settings(path: Path = READER_FILE) -> dict[str, Any]:
    with np.load(path) as arrays:
        return json.loads(str(arrays["settings"]))


def reader_weights(state: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The base weights with the reader's updates: ``{name}.down``/``{name}.up`` low-rank deltas
    (up @ down) added to ``{name}.weight``; every other array replaces the weight of its name."""
    merged = dict(state)
    for key, value in arrays.items():
        if key.endswith(".down"):
            name = key.removesuffix(".down")
            delta = arrays[f"{name}.up"] @ value
            weight = merged[f"{name}.weight"]
            merged[f"{name}.weight"] = weight + (delta if isinstance(weight, np.ndarray) else weight.new_tensor(delta))
        elif not key.endswith(".up"):
            merged[key] = value if isinstance(state.get(key, value), np.ndarray) else state[key].new_tensor(value)
    return merged


def reader_arrays(path: Path = READER_FILE) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key].astype(np.float32) for key in data.files if key not in ("settings", "stamp")}


def export_reader(model_dir: Path, reader_file: Path = READER_FILE) -> None:
    """Write ``reader.onnx`` (fp32), ``reader.int8.onnx`` (dynamic int8 quantisation of its matrix
    products) and ``reader.json`` (``READER_SETTINGS``) into the model folder, from its base weights and ``reader_file``.

    Like the embedding graphs, the graph starts from token vectors (``word_embeddings.npy`` is
    shared, memory-mapped) and uses eager attention with zero token types."""
    import torch
    from transformers import BertModel

    settings = reader_settings(reader_file)
    model = BertModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.encoder.layer = model.encoder.layer[: settings["layers"]]  # the reader's depth
    model.config.num_hidden_layers = settings["layers"]
    heads = reader_heads(model.config.hidden_size)
    arrays = reader_arrays(reader_file)
    model.load_state_dict(
        reader_weights(model.state_dict(), {k: v for k, v in arrays.items() if not k.startswith("heads.")})
    )
    heads.load_state_dict(
        {k.removeprefix("heads."): torch.from_numpy(v) for k, v in arrays.items() if k.startswith("heads.")}
    )
    model.eval()

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.heads = model, heads

        def forward(self, token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            zeros = torch.zeros_like(attention_mask)
            hidden = self.model(
                inputs_embeds=token_vectors, attention_mask=attention_mask, token_type_ids=zeros
            ).last_hidden_state
            return self.heads(hidden)

    example = (torch.ones((2, 8, model.config.hidden_size)), torch.ones((2, 8), dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    outputs = ["start_logits", "end_logits", "no_answer_logits"]
    torch.onnx.export(
        Graph(), example, str(model_dir / READER_GRAPH), input_names=["token_vectors", "attention_mask"],
        output_names=outputs, opset_version=17, dynamo=False,
        dynamic_axes={"token_vectors": axes, "attention_mask": axes, "start_logits": axes, "end_logits": axes,
                      "no_answer_logits": {0: "batch"}},
    )  # fmt: skip
    quantize_int8(model_dir / READER_GRAPH, model_dir / READER_GRAPH_INT8)
    info = {"prefixes": settings["prefixes"], "layers": settings["layers"], "reader_sha256": file_sha256(reader_file)}
    (model_dir / READER_SETTINGS).write_text(json.dumps(info, indent=2))


def quantize_int8(graph: Path, target: Path) -> None:
    """The reader's int8 graph (also the frozen layers' cache of ``rag_eval.reader_training
    --int8-lower``): dynamic quantisation of its matrix products. Per-channel weight scales, MatMul
    only: dev F1 0.673 against 0.627 for the default settings (fp32: 0.720); the weights were 4-bit
    blocks, which one scale per matrix fits badly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(graph, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


def reader_heads(hidden: int) -> Any:
    """The torch module of the heads: span start/end logits over every token, and the no-answer
    logit from the first token (<s>). Built on demand so that reading needs no torch."""
    import torch

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.span = torch.nn.Linear(hidden, 2)
            self.no_answer = torch.nn.Linear(hidden, 1)

        def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            start, end = self.span(hidden_states).unbind(-1)
            return start, end, self.no_answer(hidden_states[:, 0]).squeeze(-1)

    return Heads()
