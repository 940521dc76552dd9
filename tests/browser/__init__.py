"""Browser tests: every notebook run in real JupyterLab in headless Chromium (Playwright)."""
