from voxcontract.cli import main

main()
