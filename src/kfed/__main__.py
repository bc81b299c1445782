from kfed.cli.main import main

main()
