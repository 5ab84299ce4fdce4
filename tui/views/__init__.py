"""What the app and the report both show, as data that neither draws: the page's charts and the lesions of each
gallery."""
