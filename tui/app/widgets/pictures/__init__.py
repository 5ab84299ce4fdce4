"""Pictures drawn in text: the page's charts in plotext and lesion images in half-blocks."""
