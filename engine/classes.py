"""DermaMNIST's seven lesion classes, in the order of its labels, and which of them are cancers."""

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
CANCER_CLASSES = ("akiec", "bcc", "mel")
MEL = CLASSES.index("mel")  # the class the page's punchline is about
