"""The demo: plays the article's story end to end (``fieldsync-server demo``).

``story.toml`` holds the story (data only); ``story.py`` reads and checks it; ``runner.py``
plays it through a real HTTP server and two enrolled field devices; ``cli.py`` is the command.
"""
