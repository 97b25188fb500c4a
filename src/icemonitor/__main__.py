from icemonitor.cli import app

app(prog_name="icemonitor")
