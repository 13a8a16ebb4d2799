"""What the drawings show: one topic (animal, plant, food, ...) per emoji, Tux Paint stamp and clip-art folder.

The three sources are sorted into the same eight topics, so a chunk's domain (say animals and plants) draws on all
three styles, and the ``drawing_topic`` and ``emoji_topic`` zero-shot tasks ask for the topic of held-out ones. Only
folders and emoji subgroups whose pictures clearly show their topic are used; the rest of each package is left out.
"""

from __future__ import annotations

# topic -> how captions and the zero-shot class names say it
TOPICS = {
    "animal": "an animal",
    "plant": "a plant",
    "food": "food",
    "clothing": "a piece of clothing",
    "tool": "a tool",
    "person": "a person",
    "vehicle": "a vehicle",
    "building": "a building",
}

# Unicode emoji subgroups (emoji-test.txt) per topic
EMOJI_SUBGROUPS = {
    "animal": ("animal-mammal", "animal-bird", "animal-amphibian", "animal-reptile", "animal-marine", "animal-bug"),
    "plant": ("plant-flower", "plant-other"),
    "food": ("food-fruit", "food-vegetable", "food-prepared", "food-asian", "food-marine", "food-sweet", "drink"),
    "clothing": ("clothing",),
    "tool": ("tool",),
    "person": ("person", "person-role", "person-fantasy", "person-activity", "person-sport", "family"),
    "vehicle": ("transport-ground", "transport-air", "transport-water"),
    "building": ("place-building", "place-religious"),
}

# Tux Paint stamp folders (relative to the stamps root; a folder covers its subfolders) per topic
TUXPAINT_FOLDERS = {
    "animal": ("animals",),
    "plant": ("plants",),
    "food": ("food",),
    "clothing": ("clothes",),
    "tool": ("household/tools", "household/arttools"),
    "person": ("people",),
    "vehicle": ("vehicles", "military/vehicles"),
    "building": ("town/houses", "town/monuments"),
}

# Open Clip Art folders (exact folder, not its subfolders) -> (noun the caption uses, topic)
OPENCLIPART_FOLDERS = {
    "animals": ("animal", "animal"),
    "animals/amphibian": ("amphibian", "animal"),
    "animals/birds": ("bird", "animal"),
    "animals/birds/penguin": ("penguin", "animal"),
    "animals/bugs": ("bug", "animal"),
    "animals/dinosaurs": ("dinosaur", "animal"),
    "animals/fish": ("fish", "animal"),
    "animals/mammals": ("mammal", "animal"),
    "animals/mammals/bears": ("bear", "animal"),
    "animals/mammals/big_cats": ("big cat", "animal"),
    "animals/mammals/dogs": ("dog", "animal"),
    "animals/mammals/horses": ("horse", "animal"),
    "animals/mammals/housecats": ("cat", "animal"),
    "plants": ("plant", "plant"),
    "plants/flowers": ("flower", "plant"),
    "plants/trees": ("tree", "plant"),
    "plants/trees/evergreen": ("evergreen tree", "plant"),
    "food": ("dish", "food"),
    "food/beverages": ("drink", "food"),
    "food/beverages/alcohol": ("alcoholic drink", "food"),
    "food/breads_and_carbs": ("bread", "food"),
    "food/dairy": ("dairy product", "food"),
    "food/desserts": ("dessert", "food"),
    "food/fruit": ("fruit", "food"),
    "food/meats_and_eggs": ("meat or egg dish", "food"),
    "food/vegetables": ("vegetable", "food"),
    "people/clothing": ("garment", "clothing"),
    "people/clothing/hats": ("hat", "clothing"),
    "people/clothing/jewelry": ("piece of jewellery", "clothing"),
    "people/clothing/pantyhose": ("pair of tights", "clothing"),
    "tools": ("tool", "tool"),
    "people": ("person", "person"),
    "people/stickmen": ("stick figure", "person"),
    "transportation/vehicles": ("vehicle", "vehicle"),
    "transportation/vehicles/hummers": ("car", "vehicle"),
    "transportation/boating": ("boat", "vehicle"),
    "buildings": ("building", "building"),
    "buildings/homes": ("house", "building"),
}


def tuxpaint_topic(folder: str) -> str | None:
    for topic, roots in TUXPAINT_FOLDERS.items():
        if any(folder == root or folder.startswith(root + "/") for root in roots):
            return topic
    return None


def emoji_topic(subgroup: str) -> str | None:
    for topic, subgroups in EMOJI_SUBGROUPS.items():
        if subgroup in subgroups:
            return topic
    return None
