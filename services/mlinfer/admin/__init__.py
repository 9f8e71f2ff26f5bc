"""The admin web panel at ``/admin`` and the offline API docs (``/docs``, ``/redoc``)."""
