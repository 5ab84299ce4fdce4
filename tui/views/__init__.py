"""What the app and the report both show, as data that neither draws: the page's charts, a sweep's charts and its
answer in words (sweep_figures), and the lesions of each gallery."""
