from filmcrew.cli import main

main()
