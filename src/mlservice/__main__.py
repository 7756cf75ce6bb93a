from mlservice.cli import main

main()
