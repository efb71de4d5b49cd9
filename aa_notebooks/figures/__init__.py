"""What the widgets and the reports both show, built without widgets: the change against the
previous window as text, and (with the notebook extra) the Altair charts. A report run loads
this, never ipywidgets."""
