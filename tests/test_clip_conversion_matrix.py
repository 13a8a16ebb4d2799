"""Exact conversion over a matrix of published-style CLIP configurations.

Each configuration is a tiny model shaped like a family published on the Hub: OpenAI's legacy configs (eos_token_id=2,
so transformers pools at the highest token id; quick_gelu; logit_scale 4.6052, a hair above ln(100)), LAION's
(legacy ids with gelu), current configs whose eos_token_id is the real end token, 336 px with patch 14, and towers of
different widths and depths. Inputs are the ids a CLIP tokenizer produces (start 'V-2', end 'V-1', padded with the end
token) plus rows a tokenizer never produces: no end token, random ids from the whole vocabulary, ids above the end
token. Every path (from_clip, to_clip, from_pretrained of a transformers folder, from_open_clip) must reproduce
CLIPModel's logits within 1e-5.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass

import pytest
import torch
import transformers
from safetensors.torch import save_file
from transformers import BertConfig, CLIPConfig, CLIPModel

from growclip_hf import GrowCLIPConfig, GrowCLIPModel

from .helpers import perturb_

TOLERANCE = 1e-5
VOCAB = 64
CONTEXT = 16
OPENAI_LOGIT_SCALE = 4.6052  # what OpenAI's checkpoints hold (> ln(100)); LAION's are clamped at ln(100)
# Config fields that record where a config came from rather than what the model computes.
BOOKKEEPING = {"transformers_version", "_name_or_path", "architectures", "dtype"}


@dataclass(frozen=True)
class Case:
    """One published-style configuration and the special ids its tokenizer really emits."""

    name: str
    text: dict
    vision: dict
    hidden_act: str
    eos_token_id: int  # in the config: 2 means transformers' legacy highest-id pooling
    bos_token_id: int
    pad_token_id: int
    logit_scale: float
    start_id: int = VOCAB - 2  # what the tokenizer emits
    end_id: int = VOCAB - 1

    @property
    def legacy(self) -> bool:
        return self.eos_token_id == 2


CASES = [
    Case(  # openai/clip-vit-base-patch32
        "openai-legacy-quickgelu-224-p32",
        text={"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2},
        vision={
            "hidden_size": 48,
            "num_attention_heads": 4,
            "num_hidden_layers": 1,
            "image_size": 224,
            "patch_size": 32,
        },
        hidden_act="quick_gelu",
        eos_token_id=2,
        bos_token_id=0,
        pad_token_id=1,
        logit_scale=OPENAI_LOGIT_SCALE,
    ),
    Case(  # openai/clip-vit-large-patch14-336
        "openai-legacy-quickgelu-336-p14",
        text={"hidden_size": 48, "num_attention_heads": 3, "num_hidden_layers": 1},
        vision={
            "hidden_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "image_size": 336,
            "patch_size": 14,
        },
        hidden_act="quick_gelu",
        eos_token_id=2,
        bos_token_id=0,
        pad_token_id=1,
        logit_scale=OPENAI_LOGIT_SCALE,
    ),
    Case(  # laion/CLIP-ViT-*-laion2B: legacy ids, gelu, scale clamped at ln(100)
        "laion-legacy-gelu-224-p14",
        text={"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1},
        vision={
            "hidden_size": 64,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "image_size": 224,
            "patch_size": 14,
        },
        hidden_act="gelu",
        eos_token_id=2,
        bos_token_id=0,
        pad_token_id=1,
        logit_scale=math.log(100),
    ),
    Case(  # current configs: eos_token_id is the end token (49407), first-end-token pooling
        "new-ids-gelu-224-p16",
        text={"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2},
        vision={
            "hidden_size": 32,
            "num_attention_heads": 4,
            "num_hidden_layers": 1,
            "image_size": 224,
            "patch_size": 16,
        },
        hidden_act="gelu",
        eos_token_id=VOCAB - 1,
        bos_token_id=VOCAB - 2,
        pad_token_id=VOCAB - 1,
        logit_scale=2.6592,
    ),
    Case(  # current ids after tokens were added to the vocabulary: ids above the end token exist
        "new-ids-quickgelu-added-tokens-224-p32",
        text={"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1},
        vision={
            "hidden_size": 48,
            "num_attention_heads": 3,
            "num_hidden_layers": 2,
            "image_size": 224,
            "patch_size": 32,
        },
        hidden_act="quick_gelu",
        eos_token_id=50,
        bos_token_id=49,
        pad_token_id=50,
        logit_scale=OPENAI_LOGIT_SCALE,
        start_id=49,
        end_id=50,
    ),
]
CASE_IDS = [case.name for case in CASES]


def make_clip(case: Case, seed: int = 0) -> CLIPModel:
    projection_dim = 24
    text = {
        **case.text,
        "intermediate_size": 4 * case.text["hidden_size"],
        "vocab_size": VOCAB,
        "max_position_embeddings": CONTEXT,
        "hidden_act": case.hidden_act,
        "eos_token_id": case.eos_token_id,
        "bos_token_id": case.bos_token_id,
        "pad_token_id": case.pad_token_id,
        "projection_dim": projection_dim,
    }
    vision = {
        **case.vision,
        "intermediate_size": 2 * case.vision["hidden_size"],
        "hidden_act": case.hidden_act,
        "projection_dim": projection_dim,
    }
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    torch.manual_seed(seed)
    clip = perturb_(CLIPModel(config), seed=seed)
    with torch.no_grad():
        clip.logit_scale.fill_(case.logit_scale)
    return clip.eval()


def framed_batch(case: Case, seed: int = 0) -> dict:
    """What a CLIP tokenizer emits: start, tokens, end, then right padding with the end token, with a mask."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [4, 9, CONTEXT, 6]
    input_ids = torch.full((len(lengths), CONTEXT), case.end_id)
    attention_mask = torch.zeros(len(lengths), CONTEXT, dtype=torch.long)
    for row, length in enumerate(lengths):
        input_ids[row, 0] = case.start_id
        input_ids[row, 1 : length - 1] = torch.randint(3, case.start_id, (length - 2,), generator=generator)
        input_ids[row, length - 1] = case.end_id
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def unframed_ids(case: Case, seed: int = 0) -> torch.Tensor:
    """Rows a tokenizer never emits: no end token at all, random ids over the whole vocabulary (ids above the end
    token included where the vocabulary has them), the highest id repeated, an end token only at the very start."""
    generator = torch.Generator().manual_seed(seed)
    no_end = torch.randint(3, case.end_id, (2, CONTEXT), generator=generator)
    anything = torch.randint(0, VOCAB, (2, CONTEXT), generator=generator)
    repeated_max = torch.randint(0, 20, (1, CONTEXT), generator=generator)
    repeated_max[0, [3, 7, 11]] = VOCAB - 1
    end_first = torch.randint(3, case.start_id, (1, CONTEXT), generator=generator)
    end_first[0, 0] = case.end_id
    above_end = (
        torch.randint(case.end_id + 1, VOCAB, (1, CONTEXT), generator=generator) if case.end_id < VOCAB - 1 else None
    )
    rows = [no_end, anything, repeated_max, end_first] + ([above_end] if above_end is not None else [])
    return torch.cat(rows)


def pixels(case: Case, seed: int = 0) -> torch.Tensor:
    size = case.vision["image_size"]
    return torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(seed))


def max_logit_difference(model_a, model_b, case: Case, seed: int = 0) -> float:
    """Largest |logits_per_image| difference over the framed batch (with its mask) and the unframed rows."""
    images = pixels(case, seed)
    worst = 0.0
    with torch.no_grad():
        for texts in (framed_batch(case, seed), {"input_ids": unframed_ids(case, seed)}):
            a = model_a(**texts, pixel_values=images).logits_per_image
            b = model_b(**texts, pixel_values=images).logits_per_image
            worst = max(worst, (a - b).abs().max().item())
    return worst


@contextlib.contextmanager
def transformers_warnings():
    """Collect the warnings transformers logs (its loggers do not propagate to the root, so caplog misses them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    library_logger = logging.getLogger("transformers")
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    library_logger.addHandler(handler)
    try:
        yield records
    finally:
        library_logger.removeHandler(handler)
        transformers.logging.set_verbosity(verbosity)


def meaningful(config_dict: dict) -> dict:
    out = {key: value for key, value in config_dict.items() if key not in BOOKKEEPING}
    for name in ("text_config", "vision_config"):
        out[name] = {key: value for key, value in out[name].items() if key not in BOOKKEEPING}
    return out


# ---------------------------------------------------------------------------------------------------- from_clip


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_from_clip_matches_clip_logits_for_any_ids(case):
    clip = make_clip(case)
    grown = GrowCLIPModel.from_clip(clip).eval()
    assert grown.config.text_config.pooling == ("highest_id" if case.legacy else "eos_or_first")
    assert max_logit_difference(clip, grown, case) <= TOLERANCE


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_inputs_tell_every_pooling_rule_and_the_clamp_apart(case):
    """Control: with any other pooling rule, or with the logit scale clamped at ln(100), the parity above fails."""
    clip = make_clip(case)
    grown = GrowCLIPModel.from_clip(clip).eval()
    for rule in {"eos_or_last", "eos_or_first", "highest_id"} - {grown.config.text_config.pooling}:
        grown.config.text_config.pooling = rule
        assert max_logit_difference(clip, grown, case) > 1e-3, rule
    if case.logit_scale > math.log(100):
        grown = GrowCLIPModel.from_clip(clip).eval()
        grown.config.logit_scale_max = math.log(100)
        assert max_logit_difference(clip, grown, case) > TOLERANCE


# ------------------------------------------------------------------------------------------------------ to_clip


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_to_clip_gives_the_checkpoint_back_tensor_for_tensor(case):
    clip = make_clip(case, seed=1)
    back = GrowCLIPModel.from_clip(clip).to_clip().eval()
    original, converted = clip.state_dict(), back.state_dict()
    assert original.keys() == converted.keys()
    for key, value in original.items():
        assert value.dtype == converted[key].dtype and torch.equal(value, converted[key]), key
    assert meaningful(back.config.to_dict()) == meaningful(clip.config.to_dict())
    assert max_logit_difference(clip, back, case) == 0.0


def test_to_clip_refuses_end_token_pooling_on_the_legacy_id():
    config = GrowCLIPConfig(
        text_config={"hidden_size": 32, "num_attention_heads": 4, "vocab_size": VOCAB, "eos_token_id": 2},
        vision_config={"hidden_size": 32, "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
    )
    with pytest.raises(ValueError, match="eos_token_id=2"):
        GrowCLIPModel(config).to_clip()


# ---------------------------------------------------------------------------------------------- from_pretrained


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_from_pretrained_of_a_transformers_clip_folder_is_clean_and_exact(case, tmp_path):
    clip = make_clip(case, seed=2)
    clip.save_pretrained(tmp_path)
    with transformers_warnings() as records:
        loaded = GrowCLIPModel.from_pretrained(tmp_path)
    assert [record.getMessage() for record in records] == []
    assert type(loaded) is GrowCLIPModel and not loaded.training
    state = loaded.state_dict()
    for key, value in clip.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert max_logit_difference(clip, loaded, case) <= TOLERANCE


def test_the_warning_capture_sees_the_model_type_warning(tmp_path):
    """Control for the test above: loading a CLIP folder as a plain GrowCLIP config does log the warning."""
    make_clip(CASES[0]).save_pretrained(tmp_path)
    with transformers_warnings() as records:
        GrowCLIPConfig.from_pretrained(tmp_path)
    assert any("model of type `clip`" in record.getMessage() for record in records)


def test_a_saved_conversion_keeps_the_pooling_rule_and_scale(tmp_path):
    case = CASES[0]
    clip = make_clip(case, seed=3)
    GrowCLIPModel.from_clip(clip).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["text_config"]["pooling"] == "highest_id"
    assert saved["logit_scale_max"] == pytest.approx(OPENAI_LOGIT_SCALE, abs=1e-6)
    reloaded = GrowCLIPModel.from_pretrained(tmp_path)
    assert max_logit_difference(clip, reloaded, case) <= TOLERANCE


def test_configs_without_a_pooling_rule_keep_growclips_own_rule():
    saved = GrowCLIPConfig().to_dict()
    del saved["text_config"]["pooling"], saved["logit_scale_max"]
    config = GrowCLIPConfig.from_dict(saved)
    assert config.text_config.pooling == "eos_or_last"
    assert config.logit_scale_max == pytest.approx(math.log(100))


def test_from_pretrained_refuses_another_model_type_with_one_clear_error(tmp_path):
    BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"model type 'bert'.*'growclip'.*'clip'.*from_open_clip"):
        GrowCLIPModel.from_pretrained(tmp_path)


# ---------------------------------------------------------------------------------------------- from_open_clip


def write_open_clip_checkpoint(clip: CLIPModel, folder, custom_text: bool = False) -> None:
    """Write ``clip`` in the layout open_clip's push_to_hf_hub writes, by the inverse of the documented key mapping:
    fused q/k/v ``in_proj``, ``ln_1``/``ln_2``, ``mlp.c_fc``/``c_proj``, projections as ``[width, embed_dim]``."""
    config, weights = clip.config, clip.state_dict()
    text, vision = config.text_config, config.vision_config
    text_cfg = {
        "context_length": text.max_position_embeddings,
        "vocab_size": text.vocab_size,
        "width": text.hidden_size,
        "heads": text.num_attention_heads,
        "layers": text.num_hidden_layers,
        "mlp_ratio": text.intermediate_size / text.hidden_size,
    }
    if text.eos_token_id != 2:
        text_cfg |= {"pool_type": "eos", "eos_id": text.eos_token_id}
    model_cfg = {
        "embed_dim": config.projection_dim,
        "quick_gelu": text.hidden_act == "quick_gelu",
        "vision_cfg": {
            "image_size": vision.image_size,
            "layers": vision.num_hidden_layers,
            "width": vision.hidden_size,
            "patch_size": vision.patch_size,
            "head_width": vision.hidden_size // vision.num_attention_heads,
            "mlp_ratio": vision.intermediate_size / vision.hidden_size,
        },
        "text_cfg": text_cfg,
    }
    if custom_text:
        model_cfg["custom_text"] = True
    text_prefix = "text." if custom_text else ""
    out = {
        "visual.conv1.weight": weights["vision_model.embeddings.patch_embedding.weight"],
        "visual.class_embedding": weights["vision_model.embeddings.class_embedding"],
        "visual.positional_embedding": weights["vision_model.embeddings.position_embedding.weight"],
        "visual.ln_pre.weight": weights["vision_model.pre_layrnorm.weight"],
        "visual.ln_pre.bias": weights["vision_model.pre_layrnorm.bias"],
        "visual.ln_post.weight": weights["vision_model.post_layernorm.weight"],
        "visual.ln_post.bias": weights["vision_model.post_layernorm.bias"],
        "visual.proj": weights["visual_projection.weight"].t(),
        f"{text_prefix}token_embedding.weight": weights["text_model.embeddings.token_embedding.weight"],
        f"{text_prefix}positional_embedding": weights["text_model.embeddings.position_embedding.weight"],
        f"{text_prefix}ln_final.weight": weights["text_model.final_layer_norm.weight"],
        f"{text_prefix}ln_final.bias": weights["text_model.final_layer_norm.bias"],
        f"{text_prefix}text_projection": weights["text_projection.weight"].t(),
        "logit_scale": weights["logit_scale"],
    }
    for source, target, layers in (
        ("vision_model.encoder.layers", "visual.transformer.resblocks", vision.num_hidden_layers),
        ("text_model.encoder.layers", f"{text_prefix}transformer.resblocks", text.num_hidden_layers),
    ):
        for i in range(layers):
            s, t = f"{source}.{i}", f"{target}.{i}"
            for kind in ("weight", "bias"):
                q, k, v = (weights[f"{s}.self_attn.{name}.{kind}"] for name in ("q_proj", "k_proj", "v_proj"))
                out[f"{t}.attn.in_proj_{kind}"] = torch.cat([q, k, v])
                out[f"{t}.attn.out_proj.{kind}"] = weights[f"{s}.self_attn.out_proj.{kind}"]
                out[f"{t}.ln_1.{kind}"] = weights[f"{s}.layer_norm1.{kind}"]
                out[f"{t}.ln_2.{kind}"] = weights[f"{s}.layer_norm2.{kind}"]
                out[f"{t}.mlp.c_fc.{kind}"] = weights[f"{s}.mlp.fc1.{kind}"]
                out[f"{t}.mlp.c_proj.{kind}"] = weights[f"{s}.mlp.fc2.{kind}"]
    save_file({key: value.contiguous() for key, value in out.items()}, str(folder / "open_clip_model.safetensors"))
    preprocess_cfg = {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}
    config_json = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg}
    (folder / "open_clip_config.json").write_text(json.dumps(config_json, indent=2))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_from_open_clip_matches_clip_logits(case, tmp_path):
    clip = make_clip(case, seed=4)
    write_open_clip_checkpoint(clip, tmp_path)
    loaded = GrowCLIPModel.from_open_clip(tmp_path)
    assert loaded.config.text_config.pooling == ("highest_id" if case.legacy else "eos_or_first")
    state = loaded.state_dict()
    for key, value in clip.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert max_logit_difference(clip, loaded, case) <= TOLERANCE


def test_from_open_clip_reads_a_custom_text_layout(tmp_path):
    case = CASES[3]
    clip = make_clip(case, seed=5)
    write_open_clip_checkpoint(clip, tmp_path, custom_text=True)
    assert max_logit_difference(clip, GrowCLIPModel.from_open_clip(tmp_path), case) <= TOLERANCE


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda cfg: cfg["vision_cfg"].update(ls_init_value=1e-5), "vision_cfg.ls_init_value"),
        (lambda cfg: cfg["text_cfg"].update(hf_model_name="bert-base-uncased"), "text_cfg.hf_model_name"),
        (lambda cfg: cfg["vision_cfg"].update(layers=[3, 4, 6, 3]), "ResNet"),
        (lambda cfg: cfg["text_cfg"].update(pool_type="last"), "pool_type='last'"),
        (lambda cfg: cfg.update(init_logit_bias=-10.0), "init_logit_bias"),
    ],
    ids=["layer-scale", "hf-text-tower", "resnet", "last-token-pooling", "siglip-bias"],
)
def test_from_open_clip_refuses_what_it_cannot_reproduce(tmp_path, edit, message):
    write_open_clip_checkpoint(make_clip(CASES[0]), tmp_path)
    path = tmp_path / "open_clip_config.json"
    config = json.loads(path.read_text())
    edit(config["model_cfg"])
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        GrowCLIPModel.from_open_clip(tmp_path)


def test_from_open_clip_refuses_weights_it_cannot_place(tmp_path):
    from safetensors.torch import load_file

    write_open_clip_checkpoint(make_clip(CASES[0]), tmp_path)
    weights_path = tmp_path / "open_clip_model.safetensors"
    weights = load_file(str(weights_path))
    weights["visual.transformer.resblocks.0.ls_1.gamma"] = torch.ones(48)
    save_file(weights, str(weights_path))
    with pytest.raises(ValueError, match="ls_1.gamma"):
        GrowCLIPModel.from_open_clip(tmp_path)


def test_from_pretrained_of_an_open_clip_folder_points_to_from_open_clip(tmp_path):
    write_open_clip_checkpoint(make_clip(CASES[0]), tmp_path)
    with pytest.raises(ValueError, match=r"model type 'open_clip'.*from_open_clip"):
        GrowCLIPModel.from_pretrained(tmp_path)


def test_from_open_clip_names_the_missing_file(tmp_path):
    write_open_clip_checkpoint(make_clip(CASES[0]), tmp_path)
    (tmp_path / "open_clip_model.safetensors").unlink()
    with pytest.raises(ValueError, match="open_clip_model.safetensors"):
        GrowCLIPModel.from_open_clip(tmp_path)
