//! What the demo company's customers write: survey comments, reviews, social posts and chat
//! transcripts, each theme with several phrasings and slots (products, days, cities) so that no
//! two texts need be alike. The themes are what the planted truths are made of (DEMO.md); each
//! phrasing names its theme in words the default taxonomy knows (late delivery, login,
//! checkout, support), as real customers do.

use rand::Rng;
use rand::seq::IndexedRandom;

/// What a text is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    LateDelivery,
    LoginBug,
    MobileCheckout,
    PoorSupport,
    GoodSupport,
    Price,
    Quality,
    Returns,
    Praise,
}

pub const PRODUCTS: [&str; 16] = [
    "raised garden bed",
    "ceramic planter",
    "pruning shears",
    "garden hose",
    "bird feeder",
    "compost bin",
    "outdoor lantern",
    "patio chair",
    "seed starter kit",
    "watering can",
    "herb planter",
    "garden gloves",
    "tool set",
    "wheelbarrow",
    "hanging basket",
    "rain barrel",
];

fn pick<'a, R: Rng>(rng: &mut R, options: &[&'a str]) -> &'a str {
    options.choose(rng).copied().unwrap_or_default()
}

fn fill<R: Rng>(rng: &mut R, template: &str, product: &str, days: u32) -> String {
    let city = pick(rng, &["Atlanta", "Dallas", "Miami", "Nashville", "Charlotte", "Houston", "Tampa", "Austin"]);
    template.replace("{product}", product).replace("{days}", &days.to_string()).replace("{city}", city)
}

/// One phrasing of `theme`, with an opener or a closer now and then.
pub fn comment<R: Rng>(rng: &mut R, theme: Theme, product: &str, days: u32) -> String {
    let core = match theme {
        Theme::LateDelivery => pick(
            rng,
            &[
                "My {product} arrived {days} days late and nobody told me why.",
                "Delivery was late again. The {product} took {days} days to show up.",
                "The parcel was delayed for over a week, tracking said nothing for days.",
                "Shipping to {city} is so slow now, my order took {days} days.",
                "Still waiting for my {product}, the delivery is late and support just says be patient.",
                "Great products but the delivery delays are getting ridiculous.",
                "Ordered a {product} for a weekend project, it arrived late after the weekend was over.",
                "Your new courier is terrible, every package is late.",
                "Late delivery for the third time this year.",
                "It took {days} days for my package to arrive, the promise was three.",
            ],
        ),
        Theme::LoginBug => pick(
            rng,
            &[
                "Since the last update I can't log in to the app at all.",
                "The app keeps logging me out and the password reset link does not work.",
                "Login is broken after the update, it just spins forever.",
                "I get an error every time I try to sign in on my phone.",
                "Can't log into my account since the new version, really annoying.",
                "After updating the app the login screen freezes and I'm locked out.",
                "Reset my password twice and still cannot log in.",
                "The sign in page crashes on my iPhone since the update.",
            ],
        ),
        Theme::MobileCheckout => pick(
            rng,
            &[
                "Checkout in the app is painful, the payment step failed three times.",
                "The app kept freezing at the payment page so I finished the order on my laptop.",
                "Payment failed in the app checkout, worked fine on the website.",
                "Checking out on my phone is confusing, the card form keeps resetting.",
                "Tried to place my order in the app but the checkout button did nothing.",
            ],
        ),
        Theme::PoorSupport => pick(
            rng,
            &[
                "The support agent was rude and did not solve anything.",
                "Customer service was unhelpful, I had to explain my problem three times.",
                "The agent closed my ticket without fixing the issue.",
                "Support was dismissive and never got back to me.",
                "Waited on hold forever and the agent had no idea what to do.",
            ],
        ),
        Theme::GoodSupport => pick(
            rng,
            &[
                "The support agent was friendly and sorted it out in minutes.",
                "Customer service was really helpful, thank you!",
                "Quick answer from support and a replacement on the way.",
                "The agent was patient and knowledgeable.",
            ],
        ),
        Theme::Price => pick(
            rng,
            &[
                "Prices have gone up a lot, the {product} is cheaper elsewhere.",
                "Good quality but a bit expensive for what it is.",
                "The membership is getting pricey.",
                "Decent products, the shipping cost is too high though.",
            ],
        ),
        Theme::Quality => pick(
            rng,
            &[
                "The {product} broke after two weeks.",
                "Quality is not what it used to be, my {product} feels flimsy.",
                "The {product} stopped working after a month.",
                "Poor quality, the {product} fell apart.",
            ],
        ),
        Theme::Returns => pick(
            rng,
            &[
                "Returning the {product} was easy, the label was in the box.",
                "The return took ages and I had to chase my refund.",
                "Exchange went smoothly, thanks.",
                "Sending it back was a hassle, the return form kept failing.",
            ],
        ),
        Theme::Praise => pick(
            rng,
            &[
                "Love my {product}, great quality and fast delivery.",
                "Everything arrived on time and well packed.",
                "The app is easy to use and the membership is worth it.",
                "Great selection and friendly service.",
                "Best garden shop online, my {product} is perfect.",
                "Fast shipping and the {product} looks great on the patio.",
                "Always reliable, I recommend Evergreen to all my friends.",
            ],
        ),
    };
    let text = fill(rng, core, product, days);
    match rng.random_range(0..6) {
        0 => format!("{} {text}", pick(rng, &["Honestly,", "To be fair,", "Well.", "Hmm.", "So,"])),
        1 => format!("{text} {}", pick(rng, &["Please fix this.", "Thanks.", "Just my two cents.", "Otherwise fine."])),
        _ => text,
    }
}

/// A title for a review of `rating` stars.
pub fn review_title<R: Rng>(rng: &mut R, rating: u8) -> String {
    let options: &[&str] = match rating {
        1 | 2 => &["Disappointed", "Not again", "Frustrating", "Would not recommend"],
        3 => &["Okay", "Mixed feelings", "Could be better"],
        _ => &["Great!", "Very happy", "Lovely", "Five stars from me"],
    };
    pick(rng, options).to_owned()
}

/// A chat transcript: (speaker, text) turns about `theme`, the agent's manner set by `curt`.
pub fn transcript<R: Rng>(rng: &mut R, theme: Theme, agent: &str, product: &str, curt: bool) -> Vec<(String, String)> {
    let first_name = agent.split(' ').next().unwrap_or(agent);
    let opening = match theme {
        Theme::LateDelivery => "Hi, my order still hasn't arrived and it's late. Where is my package?",
        Theme::LoginBug => "Hello, I can't log in to the app since the update.",
        Theme::MobileCheckout => "Hi, the payment keeps failing in the app checkout.",
        Theme::Returns => "Hi, I'd like to return an item.",
        _ => "Hi, I have a question about my order.",
    };
    let mut turns = vec![
        ("agent".to_owned(), format!("Hi, this is {first_name} from Evergreen. How can I help?")),
        ("customer".to_owned(), opening.to_owned()),
    ];
    if curt {
        turns.push(("agent".into(), pick(rng, &["Order number?", "You need to wait.", "Did you try again?"]).into()));
        turns.push(("customer".into(), fill(rng, "It's for a {product}. I already waited.", product, 0)));
        turns.push((
            "agent".into(),
            pick(rng, &["There's nothing I can do.", "Check the FAQ.", "It is what it is."]).into(),
        ));
        turns.push((
            "customer".into(),
            pick(rng, &["That's not helpful at all.", "Wow, that's rude.", "Terrible service."]).into(),
        ));
    } else {
        turns.push(("agent".into(), "I'm sorry about that, let me look into it for you.".into()));
        turns.push(("customer".into(), fill(rng, "Thank you, it's for a {product}.", product, 0)));
        let fix = match theme {
            Theme::LateDelivery => "I've contacted the courier and added a refund of the shipping fee.",
            Theme::LoginBug => "Our team is fixing it; in the meantime you can sign in on the website.",
            _ => "All sorted, you'll get an e-mail confirmation shortly.",
        };
        turns.push(("agent".into(), fix.into()));
        turns.push((
            "customer".into(),
            pick(rng, &["Great, thanks for your help!", "Perfect, thank you.", "Thanks!"]).into(),
        ));
    }
    turns
}
