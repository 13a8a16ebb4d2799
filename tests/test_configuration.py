import json

import pytest
from transformers import AutoConfig

from growclip_hf import GrowCLIPConfig, GrowCLIPSharedConfig, GrowCLIPTextConfig, GrowCLIPVisionConfig

from .helpers import tiny_config


def test_nested_sub_configs_like_clip():
    config = tiny_config(shared_layers=1)
    assert set(GrowCLIPConfig.sub_configs) == {"text_config", "vision_config", "shared_config"}
    assert isinstance(config.text_config, GrowCLIPTextConfig)
    assert isinstance(config.vision_config, GrowCLIPVisionConfig)
    assert isinstance(config.shared_config, GrowCLIPSharedConfig)
    assert config.has_shared_encoder
    assert not tiny_config().has_shared_encoder


def test_dict_and_instance_sub_configs_are_equivalent():
    from_dicts = tiny_config()
    from_instances = GrowCLIPConfig(
        text_config=from_dicts.text_config,
        vision_config=from_dicts.vision_config,
        shared_config=from_dicts.shared_config,
        projection_dim=24,
    )
    assert from_dicts.to_dict() == from_instances.to_dict()


def test_json_round_trip_keeps_growth_history(tmp_path):
    config = tiny_config(shared_layers=1, growth_history=[{"stage": 1, "init": "pim", "params_after": 123}])
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "growclip"
    assert saved["shared_config"]["num_hidden_layers"] == 1
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(reloaded, GrowCLIPConfig)
    assert reloaded.growth_history == [{"stage": 1, "init": "pim", "params_after": 123}]
    assert reloaded.text_config.hidden_size == 32


def test_growth_history_defaults_to_a_fresh_list():
    first, second = GrowCLIPConfig(), GrowCLIPConfig()
    first.growth_history.append({"stage": 1})
    assert second.growth_history == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_config": {"hidden_size": 30, "num_attention_heads": 4}}, "text_config.hidden_size"),
        ({"vision_config": {"image_size": 30, "patch_size": 8}}, "vision_config.image_size"),
        ({"shared_config": {"num_hidden_layers": -1}}, "shared_config.num_hidden_layers"),
        ({"projection_dim": 0}, "projection_dim"),
        ({"vision_config": {"num_attention_heads": 0}}, "vision_config.num_attention_heads"),
    ],
)
def test_unbuildable_configs_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GrowCLIPConfig(**kwargs)


def test_explicit_head_dim_decouples_heads_from_width():
    config = GrowCLIPTextConfig(hidden_size=32, num_attention_heads=3, head_dim=8)
    assert config.num_attention_heads * config.head_dim == 24
