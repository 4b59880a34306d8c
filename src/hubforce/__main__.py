from hubforce.cli import main

main()
