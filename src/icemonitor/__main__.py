from icemonitor.cli import main

main()
