"""Small matplotlib charts as PNG bytes or Markdown images for asset metadata and reports."""

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display on servers and in tests
import matplotlib.pyplot as plt


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, title: str) -> str:
    """A Markdown image the Dagster UI renders inline (data URI)."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


def reliability_chart(reliability_by_candidate: dict[str, list[dict]]) -> bytes:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, bins in reliability_by_candidate.items():
        axis.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=name)
    axis.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title="Reliability on the test split")
    axis.legend(fontsize=8)
    return figure_png(figure)


def learning_curve(history: list[dict]) -> bytes:
    """Validation loss and macro-F1 over training steps."""
    figure, loss_axis = plt.subplots(figsize=(5.5, 3.5))
    steps = [record["step"] for record in history]
    loss_axis.plot(steps, [record["validation_loss"] for record in history], color="tab:red", marker=".")
    loss_axis.set(xlabel="step", ylabel="validation loss")
    f1_axis = loss_axis.twinx()
    f1_axis.plot(steps, [record["validation_macro_f1"] for record in history], color="tab:blue", marker=".")
    f1_axis.set_ylabel("validation macro-F1")
    loss_axis.set_title("Fine-tuning")
    return figure_png(figure)
