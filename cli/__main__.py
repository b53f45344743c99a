from phasewatch.cli.launch import main

main()
