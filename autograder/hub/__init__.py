"""The class hub: JupyterHub for one course, its nbgrader exchange and its accounts.

``python -m autograder.hub`` starts it (see ``autograder/hub/__main__.py`` and the README,
"A class on JupyterHub"). The modules: ``roster`` reads the class file, ``layout`` names every
path in the state folder, ``accounts`` creates the Unix accounts and checks what they can
reach (and locks the repository's folders that hold answers), ``students_env`` builds the
students' environment (the package from a wheel), ``auth`` is the per-user password
authenticator, ``settings`` reads the instructor's course settings file, ``gradebook`` puts
the roster and due dates into nbgrader's gradebook, ``watch_service`` runs the grading watcher
as a JupyterHub service, ``config`` turns the settings into JupyterHub's configuration.
"""
