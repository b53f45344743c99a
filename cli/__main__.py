from phasewatch.cli.app import main

main()
