"""mplhep figures: CMS style, event-image galleries, mass spectra per predicted class."""

from .gallery import composite, plot_gallery
from .spectra import (
    confusion_from_hist,
    plot_confusion,
    plot_mass_per_class,
    plot_roc,
    roc_from_hist,
)
from .style import cms_label, pyplot, save

__all__ = [
    "cms_label",
    "composite",
    "confusion_from_hist",
    "plot_confusion",
    "plot_gallery",
    "plot_mass_per_class",
    "plot_roc",
    "pyplot",
    "roc_from_hist",
    "save",
]
