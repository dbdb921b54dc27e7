"""The web app: server-rendered pages (Jinja2 templates) with light static JavaScript and CSS,
served by `keepsake serve` next to the JSON API the pages call."""
