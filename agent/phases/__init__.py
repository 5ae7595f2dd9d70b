"""The research loop's steps: understand -> plan -> execute -> reflect -> answer, then summarise.

Each step is one function with typed input and output, so a test can drive it alone
against a scripted model.
"""
