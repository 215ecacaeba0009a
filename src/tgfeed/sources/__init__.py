"""Where articles come from besides file imports: the department's site (crawled),
other sites' RSS/Atom feeds, and a drop folder. ``jobs.crawl`` runs them;
``web.api`` takes pushes from the CMS.

- ``crawler``: the polite, guarded HTTP client (httpx, robots.txt, SSRF guard)
- ``site``: the incremental crawl of the department's site
- ``feeds``: foreign feeds (feedparser) → articles
- ``directory``: a drop folder → articles, each file once
- ``links``: pure helpers (links of a page, charset, patterns)
"""
