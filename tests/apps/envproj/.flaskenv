FLASK_APP=envapp:create_app("from .flaskenv")
LAUNCHER_TEST_FROM_FLASKENV=yes
