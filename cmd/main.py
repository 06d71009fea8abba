import click

@click.group()
@click.version_option(package_name="alcor")
def cli():
    """Alcor."""

def main():
    cli()
