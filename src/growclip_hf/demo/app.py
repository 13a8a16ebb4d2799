"""The Gradio Blocks app: two stage selectors on top, then zero-shot classification, text-to-image and image-to-text
retrieval and the growth plot, every result shown for both stages side by side.

Each handler validates its inputs first (``limits``) and turns refusals into ``gr.Error`` with the reason, so API
clients and the browser get the same clear message.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import gradio as gr

from .history import growth_figure, stage_point
from .inference import StageModels, example_images, load_gallery
from .limits import (
    DemoInputError,
    DemoLimits,
    check_image_file,
    check_query,
    check_template,
    check_top_k,
    parse_labels,
)
from .sources import StageSource

DEFAULT_TEMPLATE = "a photo of a {}."
# System fonts only, so the page never waits on a font server (a GoogleFont theme would fetch fonts.googleapis.com).
OFFLINE_THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)


def user_errors(handler):
    """Show a refused input (DemoInputError) or a missing gallery (LookupError) as a Gradio error with its reason."""

    @functools.wraps(handler)
    def wrapped(*args):
        try:
            return handler(*args)
        except (DemoInputError, LookupError, KeyError) as error:
            raise gr.Error(str(error).strip("'\""), print_exception=False) from error

    return wrapped


class DemoHandlers:
    """The functions behind the app's endpoints, kept apart from the layout so they can be read and tested alone."""

    def __init__(self, source: StageSource, limits: DemoLimits, models: StageModels, gallery_files: list[str]):
        self.source, self.limits, self.models = source, limits, models
        self.gallery_files = gallery_files  # served as files: lossless, unlike Gradio's WebP re-encoding of PIL images

    def classify(self, image_path, labels_text, template, stage_a, stage_b):
        image = check_image_file(image_path, self.limits)
        labels = parse_labels(labels_text, self.limits)
        template = check_template(template)
        results = [self.models.classify(stage, image, labels, template) for stage in (stage_a, stage_b)]
        summary = " | ".join(
            f"{stage}: {max(result, key=result.get)} ({100 * max(result.values()):.1f}%)"
            for stage, result in zip((stage_a, stage_b), results, strict=True)
        )
        return results[0], results[1], f"Top label per stage, {summary}"

    def text_to_image(self, query, k, stage_a, stage_b):
        query, k = check_query(query, self.limits), check_top_k(k, self.limits)
        return tuple(self._image_hits(stage, query, k) for stage in (stage_a, stage_b))

    def _image_hits(self, stage, query, k):
        """(PNG file, similarity) of the top-k gallery images: a Gallery value."""
        hits = self.models.text_to_image(stage, query, k)
        return [(self.gallery_files[index], f"{score:.3f}") for index, score in hits]

    def image_to_text(self, image_path, k, stage_a, stage_b):
        image, k = check_image_file(image_path, self.limits), check_top_k(k, self.limits)
        return tuple(self._caption_hits(stage, image, k) for stage in (stage_a, stage_b))

    def _caption_hits(self, stage, image, k):
        """[rank, caption, similarity] rows of the top-k held-out captions: a Dataframe value."""
        hits = self.models.image_to_text(stage, image, k)
        return [
            [rank + 1, self.models.gallery.captions[index], round(score, 4)] for rank, (index, score) in enumerate(hits)
        ]

    def growth_plot(self):
        points = [stage_point(name, self.source.folder(name, metadata_only=True)) for name in self.source.stage_names]
        return growth_figure([point for point in points if point is not None])


def write_examples(manifest, folder: Path) -> list[list[str]]:
    """Example rows (image file, labels, template) from the zero-shot tasks, saved as PNGs in ``folder``."""
    rows = []
    for index, (image, labels) in enumerate(example_images(manifest)):
        path = folder / f"example-{index}.png"
        image.save(path)
        rows.append([str(path), labels, DEFAULT_TEMPLATE])
    return rows


def write_gallery(models: StageModels, folder: Path) -> list[str]:
    """The gallery's images saved once as PNG files in ``folder`` (what the text-to-image tab returns)."""
    paths = []
    for index, image in enumerate(models.gallery.images if models.gallery else []):
        path = folder / f"gallery-{index}.png"
        image.save(path)
        paths.append(str(path))
    return paths


def build_demo(source: StageSource, limits: DemoLimits | None = None, examples_dir: str | Path | None = None):
    """The Blocks app for ``source``; returns (blocks, allowed_paths) since example files must be served."""
    limits = limits or DemoLimits()
    models = StageModels(source, load_gallery(source.manifest))
    examples_dir = Path(examples_dir or tempfile.mkdtemp(prefix="growclip-demo-"))
    handlers = DemoHandlers(source, limits, models, write_gallery(models, examples_dir))
    examples = write_examples(source.manifest, examples_dir)
    names = source.stage_names
    limit_note = (
        f"Limits: images up to {limits.max_image_bytes / 1e6:.0f} MB and {limits.max_image_pixels:,} pixels, "
        f"{limits.max_labels} labels, queries up to {limits.max_query_chars} characters, "
        f"top-k up to {limits.max_top_k}."
    )
    with gr.Blocks(title="GrowCLIP demo") as demo:
        gr.Markdown(f"# GrowCLIP: a CLIP that grows while it learns\nStages from {source.description}. {limit_note}")
        with gr.Row():
            stage_a = gr.Dropdown(names, value=names[0], label="Left stage")
            stage_b = gr.Dropdown(names, value=names[-1], label="Right stage")
        with gr.Tab("Zero-shot classification"):
            with gr.Row():
                image = gr.Image(type="filepath", label="Image")
                with gr.Column():
                    labels = gr.Textbox(label="Labels (comma-separated)", placeholder="dress, sneaker, handbag")
                    template = gr.Textbox(value=DEFAULT_TEMPLATE, label="Prompt template")
                    classify_button = gr.Button("Classify", variant="primary")
            summary = gr.Markdown(elem_id="classification-summary")
            with gr.Row():
                probs_a, probs_b = gr.Label(label="Left stage"), gr.Label(label="Right stage")
            if examples:
                gr.Examples(examples, inputs=[image, labels, template], label="Images from the embedded benchmark")
            classify_button.click(
                user_errors(handlers.classify),
                [image, labels, template, stage_a, stage_b],
                [probs_a, probs_b, summary],
                api_name="classify",
            )
        with gr.Tab("Text to image"):
            query = gr.Textbox(label="Describe an image")
            k_images = gr.Slider(1, limits.max_top_k, value=4, step=1, label="Top-k")
            search_images = gr.Button("Search held-out images", variant="primary")
            with gr.Row():
                gallery_a, gallery_b = (
                    gr.Gallery(label="Left stage", columns=4),
                    gr.Gallery(label="Right stage", columns=4),
                )
            search_images.click(
                user_errors(handlers.text_to_image),
                [query, k_images, stage_a, stage_b],
                [gallery_a, gallery_b],
                api_name="text_to_image",
            )
        with gr.Tab("Image to text"):
            query_image = gr.Image(type="filepath", label="Image")
            k_captions = gr.Slider(1, limits.max_top_k, value=5, step=1, label="Top-k")
            search_captions = gr.Button("Search held-out captions", variant="primary")
            headers = ["rank", "caption", "similarity"]
            with gr.Row():
                captions_a = gr.Dataframe(headers=headers, label="Left stage")
                captions_b = gr.Dataframe(headers=headers, label="Right stage")
            search_captions.click(
                user_errors(handlers.image_to_text),
                [query_image, k_captions, stage_a, stage_b],
                [captions_a, captions_b],
                api_name="image_to_text",
            )
        with gr.Tab("Growth history"):
            plot = gr.Plot(label="Parameters vs samples seen")
            gr.Button("Draw").click(handlers.growth_plot, None, plot, api_name="growth_plot")
        demo.load(handlers.growth_plot, None, plot, api_name=False)
    return demo, [str(examples_dir)]


def launch_demo(source: StageSource, host: str = "127.0.0.1", port: int | None = None, **launch_options):
    """Build and serve the app (offline theme, upload size capped by Gradio too); returns the Blocks."""
    demo, allowed_paths = build_demo(source)
    demo.launch(
        server_name=host,
        server_port=port,
        theme=OFFLINE_THEME,
        allowed_paths=allowed_paths,
        max_file_size=DemoLimits().max_image_bytes,
        **launch_options,
    )
    return demo
