"""Dictionary initialisation of the added hanzi rows."""

import hashlib
from pathlib import Path

import torch

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.glosses import cedict_glosses, parse_cedict

LINES = [
    "# CC-CEDICT header",
    "好 好 [hao3] /good/appropriate; proper/(before a verb) easy to/",
    "好 好 [hao4] /to be fond of/",
    "貓 猫 [mao1] /cat/CL:隻|只[zhi1]/",
    "说 说 [shuo1] /variant of 說|说[shuo1]/",
    "好看 好看 [hao3 kan4] /good-looking/",
]


def test_cedict_lines_give_the_content_words_of_single_characters():
    glosses = parse_cedict(LINES)
    assert glosses["好"] == ["good", "appropriate", "proper", "easy", "fond"]
    assert glosses["猫"] == glosses["貓"] == ["cat"]  # simplified and traditional forms; CL: is grammar
    assert "说" not in glosses  # only a pointer to another form: no meaning to start from
    assert "好看" not in glosses  # words are not characters


def test_the_shipped_dictionary_covers_most_gb2312_hanzi():
    glosses = cedict_glosses()
    hanzi = model_io.gb2312_hanzi()
    assert sum(character in glosses for character in hanzi) / len(hanzi) > 0.9
    assert "good" in glosses["好"] and "bad" in glosses["坏"]


def encoder_rows(directory, tokenizer, characters):
    weight = model_io.load_encoder(Path(directory)).get_input_embeddings().weight
    return {character: weight[tokenizer.convert_tokens_to_ids(character)].detach() for character in characters}


def test_gloss_rows_start_at_their_gloss_and_the_others_keep_the_draw(tiny_model_dir, tmp_path):
    glosses = cedict_glosses()
    without = next(character for character in model_io.gb2312_hanzi() if character not in glosses)
    characters = ["好", "坏", without]
    gloss = model_io.build_review_base(tiny_model_dir, tmp_path / "g", 128, characters, seed=3, embedding_init="gloss")
    normal = model_io.build_review_base(
        tiny_model_dir, tmp_path / "n", 128, characters, seed=3, embedding_init="normal"
    )
    assert gloss["gloss_initialised"] == 2 and gloss["hash"] == normal["hash"]
    assert gloss["directory"] != normal["directory"]  # another init is another base folder

    base_tokenizer = model_io.load_tokenizer(tiny_model_dir)
    base_weight = model_io.load_encoder(tiny_model_dir).get_input_embeddings().weight.detach()
    tokenizer = model_io.load_tokenizer(Path(gloss["directory"]))
    from_gloss = encoder_rows(gloss["directory"], tokenizer, characters)
    drawn = encoder_rows(normal["directory"], tokenizer, characters)
    for character in ("好", "坏"):
        ids = model_io.gloss_token_ids(base_tokenizer, glosses[character])
        target = base_weight[ids].mean(dim=0)
        assert torch.dist(from_gloss[character], target) < 1e-5 < torch.dist(drawn[character], target)
    assert torch.equal(from_gloss[without], drawn[without])


def test_the_base_folder_is_deterministic(tiny_model_dir, tmp_path):
    characters = model_io.gb2312_hanzi()[:50]
    digests = []
    for folder in ("first", "second"):
        manifest = model_io.build_review_base(tiny_model_dir, tmp_path / folder, 128, characters, seed=1)
        weights = Path(manifest["directory"]) / "model.safetensors"
        digests.append(
            (
                manifest["hash"],
                Path(manifest["directory"]).name,
                hashlib.sha256(weights.read_bytes()).hexdigest(),
            )
        )
    assert digests[0] == digests[1]
