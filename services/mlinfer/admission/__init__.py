"""Priority admission: a bounded queue in front of the backend that sheds load early."""
